"""RAG configuration benchmarks: generator x retriever over a corpus and a QA set.

* ``data`` -- the corpus folder (.md/.txt) and the JSONL QA set; clear errors for bad input.
* ``retrievers`` -- none, dense, bm25, ensemble, multi-query behind ``build_retriever``.
* ``generators`` -- smollm2-135m, hf:<model>, openai:<model> behind ``build_generator``.
* ``prompts`` -- the chat messages the generator sees.
* ``metrics`` / ``wordnet`` -- BLEU, METEOR (real WordNet), ROUGE, retrieval metrics.
* ``pipeline`` -- ``run_rag_benchmark(settings, generator, retriever)`` -> ``Result``, with the
  per-question records and the hook for the LLM judge (``judge``, owned by the judge module).
"""

from llmbench.suites.rag.pipeline import JudgeOutcome, QuestionRecord, run_rag_benchmark

__all__ = ["JudgeOutcome", "QuestionRecord", "run_rag_benchmark"]
