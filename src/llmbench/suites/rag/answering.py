"""Answering a configuration's questions: a few one request at a time, the rest in batches.

* The first ``alone`` questions are answered as a user's requests are: retrieve, then generate
  a batch of one, timed end to end. Their ``latency_s`` is a per-request latency, what the
  latency percentiles of a RAG table mean.
* The other questions are retrieved first and answered in batches of ``batch_size``: the
  throughput a batch job gets. Their ``latency_s`` counts the whole batch that answered them
  (what a caller served in that batch waits for), so it is no per-request figure.

The batches run first, so the requests timed alone meet a model that has already run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from llmbench.core.tracing import traceable
from llmbench.suites.rag.data import QAItem
from llmbench.suites.rag.generators import Completion, Generator
from llmbench.suites.rag.prompts import answer_messages
from llmbench.suites.rag.retrievers import Retrieval, Retriever


@dataclass
class QuestionRecord:
    """Everything one question went through; the judge reads these."""

    qid: str
    question: str
    reference: str
    doc_ids: list[str]  # labelled relevant documents
    retrieved_doc_ids: list[str]  # in rank order
    contexts: list[str]  # passage texts given to the generator
    queries: list[str]  # what the retriever searched (multi-query: question + variants)
    answer: str
    prompt_tokens: int | None  # answer + query variants; None when the endpoint gave no usage
    completion_tokens: int | None
    retrieval_s: float
    generation_s: float  # answered alone: its own generation; in a batch: the batch's
    alone: bool = False  # answered on its own, timed end to end

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "latency_s": self.latency_s}


@traceable(name="retrieve", run_type="retriever")
def _retrieve(retriever: Retriever, question: str) -> Retrieval:
    return retriever.retrieve(question)


@traceable(name="generate", run_type="llm")
def _generate(generator: Generator, prompts, *, max_new_tokens: int, batch_size: int):
    return generator.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)


def answer_questions(items: Sequence[QAItem], retriever: Retriever, generator: Generator, *,
                     max_new_tokens: int, batch_size: int, alone: int = 0,
                     phases: dict[str, float] | None = None) -> list[QuestionRecord]:
    """Records in the order of ``items``: the first ``alone`` answered one request at a time,
    the rest in batches. ``phases`` receives the wall time of each step (``retrieve`` and
    ``generate`` for the batches, ``requests`` for the questions answered alone)."""
    if alone < 0:
        raise ValueError(f"alone must be >= 0, got {alone}")
    phases = {} if phases is None else phases
    batched = _answer_in_batches(items[alone:], retriever, generator,
                                 max_new_tokens=max_new_tokens, batch_size=batch_size,
                                 phases=phases)
    started = time.perf_counter()
    single = [_answer_alone(item, retriever, generator, max_new_tokens)
              for item in items[:alone]]
    if single:
        phases["requests"] = time.perf_counter() - started
    return single + batched


def _answer_alone(item: QAItem, retriever: Retriever, generator: Generator,
                  max_new_tokens: int) -> QuestionRecord:
    started = time.perf_counter()
    retrieval = _retrieve(retriever, item.question)  # multi-query writes its variants here
    retrieval_s = time.perf_counter() - started
    completion = _generate(generator, [answer_messages(item.question, retrieval.passages)],
                           max_new_tokens=max_new_tokens, batch_size=1)[0]
    generation_s = time.perf_counter() - started - retrieval_s
    return _record(item, retrieval, retrieval_s, completion, generation_s, alone=True)


def _answer_in_batches(items: Sequence[QAItem], retriever: Retriever, generator: Generator, *,
                       max_new_tokens: int, batch_size: int,
                       phases: dict[str, float]) -> list[QuestionRecord]:
    if not items:
        return []
    retrievals: list[tuple[Retrieval, float]] = []
    started = time.perf_counter()
    retriever.prepare([item.question for item in items], batch_size)
    for item in items:
        t0 = time.perf_counter()
        retrieval = _retrieve(retriever, item.question)
        retrievals.append((retrieval, time.perf_counter() - t0 + retrieval.prepared_s))
    prompts = [answer_messages(item.question, retrieval.passages)
               for item, (retrieval, _) in zip(items, retrievals)]
    phases["retrieve"] = time.perf_counter() - started
    started = time.perf_counter()
    completions = _generate(generator, prompts, max_new_tokens=max_new_tokens,
                            batch_size=batch_size)
    phases["generate"] = time.perf_counter() - started
    return [_record(item, retrieval, retrieval_s, completion, completion.seconds)
            for item, (retrieval, retrieval_s), completion
            in zip(items, retrievals, completions)]


def _record(item: QAItem, retrieval: Retrieval, retrieval_s: float, completion: Completion,
            generation_s: float, alone: bool = False) -> QuestionRecord:
    return QuestionRecord(
        qid=item.qid, question=item.question, reference=item.reference,
        doc_ids=list(item.doc_ids),
        retrieved_doc_ids=_unique(p.doc_id for p in retrieval.passages),
        contexts=[p.text for p in retrieval.passages], queries=retrieval.queries,
        answer=completion.text,
        prompt_tokens=_plus(completion.prompt_tokens, retrieval.prompt_tokens),
        completion_tokens=_plus(completion.completion_tokens, retrieval.completion_tokens),
        retrieval_s=retrieval_s, generation_s=generation_s, alone=alone)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _plus(a: int | None, b: int) -> int | None:
    return None if a is None else a + b
