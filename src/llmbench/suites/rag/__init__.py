"""RAG configuration benchmarks: generator x retriever over a corpus and a QA set.

* ``data`` -- the corpus folder (.md/.txt) and the JSONL QA set; clear errors for bad input.
* ``retrievers`` -- none, dense, bm25, ensemble, multi-query behind ``build_retriever``.
* ``generators`` -- smollm2-135m, hf:<model>, openai:<model> behind ``build_generator``.
* ``prompts`` -- the chat messages the generator sees.
* ``metrics`` / ``wordnet`` -- BLEU, METEOR (real WordNet), ROUGE, retrieval metrics.
* ``answering`` -- the questions answered: a few one request at a time (per-request latency),
  the rest in batches (throughput).
* ``pipeline`` -- ``run_rag_benchmark(settings, generator, retriever)`` -> ``Result``, with the
  per-question records and the hook for the LLM judge (``judge``, owned by the judge module).
* ``rankings`` / ``retrieval_quality`` -- retrieval alone on every labelled question: recall@k,
  MRR, nDCG and how often two retrievers disagree on the first document.

Nothing is imported here: the modules need the ``rag`` extra (langchain, nltk, ...), and the
plugin imports some of them only where that extra is installed.
"""
