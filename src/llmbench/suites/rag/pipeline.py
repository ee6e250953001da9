"""One RAG configuration (generator x retriever) measured end to end on a QA set.

``run_rag_benchmark`` loads the corpus and questions, retrieves for every question, answers in
batches, scores the answers and the rankings, and returns a ``Result`` (suite ``rag``) whose
artifacts keep one record per question. An optional ``judge`` adds its own metrics (the LLM
judge's correctness and helpfulness) from those records.

Latency of a question = its retrieval time (including query-variant generation for
multi-query) + the time of the generation batch that answered it: what a caller served in that
batch waits for. ``seconds_per_question`` is the whole run's wall time divided by the questions.
All of them are ``host_time``: a small model answering short questions is paced by Python and
kernel launches on a GPU too (``regression.tolerances``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmbench.core.fixtures import fixture_path
from llmbench.core.specs import FIXTURES_PREFIX
from llmbench.core.tracing import traceable
from llmbench.judges import JudgeOutcome
from llmbench.profiles import RagSettings
from llmbench.regression.results import Determinism, Result, cost, info, quality, seeded_on
from llmbench.suites.rag import metrics
from llmbench.suites.rag.data import Corpus, QAItem, load_corpus, load_qa, qa_digest
from llmbench.suites.rag.generators import OPENAI_PREFIX, Generator, build_generator
from llmbench.suites.rag.prompts import answer_messages, prompts_digest
from llmbench.suites.rag.retrievers import Retrieval, Retriever, build_retriever
from llmbench.suites.rag.wordnet import WordNetUnavailable

SUITE = "rag"
# Lexical scores of greedy answers are near-deterministic on one device class; a different CPU
# can flip a few greedy tokens, hence the small absolute slack.


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
    generation_s: float

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "latency_s": self.latency_s}


Judge = Callable[[Sequence[QuestionRecord]], JudgeOutcome]


def config_label(generator_spec: str, retriever_name: str) -> str:
    if retriever_name == "none":
        return f"{generator_spec} (no retrieval)"
    return f"{generator_spec} + {retriever_name}"


def data_path(spec: str | Path) -> Path:
    """``fixtures:<path>`` names data llmbench ships; anything else is a path."""
    if isinstance(spec, str) and spec.startswith(FIXTURES_PREFIX):
        return fixture_path(spec[len(FIXTURES_PREFIX):])
    return Path(spec)


def load_data(settings: RagSettings, corpus_dir: str | Path | None = None,
              qa_path: str | Path | None = None) -> tuple[Corpus, tuple[QAItem, ...]]:
    """The corpus and the questions a run uses (the first ``settings.questions``)."""
    corpus = load_corpus(data_path(corpus_dir or settings.corpus),
                         chunk_chars=settings.chunk_chars)
    items = load_qa(data_path(qa_path or settings.qa), corpus=corpus,
                    fields=settings.qa_field_map)
    if settings.questions is not None:
        if settings.questions < 1:
            raise ValueError(f"RagSettings.questions must be >= 1 or None, got "
                             f"{settings.questions}")
        items = items[:settings.questions]
    return corpus, items


def run_rag_benchmark(settings: RagSettings, generator_spec: str, retriever_name: str, *,
                      device: str = "cpu", corpus_dir: str | Path | None = None,
                      qa_path: str | Path | None = None,
                      judge: Judge | None = None) -> Result:
    """Measure one configuration. ``corpus_dir``/``qa_path`` override the settings' files."""
    loading = time.perf_counter()
    corpus, items = load_data(settings, corpus_dir, qa_path)
    generator = build_generator(generator_spec, device=device)
    retriever = build_retriever(
        retriever_name, corpus, k=settings.k, embedder=settings.embedder, device=device,
        generator=generator, ensemble_weights=settings.ensemble_weights, rrf_c=settings.rrf_c,
        variant_tokens=settings.variant_tokens)

    started = time.perf_counter()
    load_s = started - loading
    phases: dict[str, float] = {}
    records = answer_questions(items, retriever, generator, max_new_tokens=settings.max_new_tokens,
                               batch_size=settings.batch_size, phases=phases)
    wall_s = time.perf_counter() - started

    result = Result(SUITE, _params(settings, generator_spec, retriever_name, corpus.digest,
                                   items))
    # Greedy answers of a local model are reproducible on CPU; a remote model's are not.
    answers = (Determinism.NOISY if generator_spec.startswith(OPENAI_PREFIX)
               else seeded_on(device))
    answer_scores, unavailable = score_answers(records, settings.extra_metrics)
    for name, value in answer_scores.items():
        result.add(name, quality(value, "score", "higher", kind="text_score", device=device,
                                 determinism=answers))
    if retriever_name != "none":
        # multi-query retrieval depends on the generator's query variants
        ranking = answers if retriever_name == "multi-query" else seeded_on(device)
        for name, value in score_retrieval(records).items():
            kind = "text_score" if retriever_name == "multi-query" else "retrieval_score"
            result.add(name, quality(value, "score", "higher", kind=kind, device=device,
                                     determinism=ranking))
    _add_tokens(result, records, unavailable, answers)
    _add_latency(result, records, wall_s, device)
    result.add("contexts_per_question",
               info(sum(len(r.contexts) for r in records) / len(records), "passages"))

    result.artifacts = {
        "config": {"label": config_label(generator_spec, retriever_name),
                   "generator": generator_spec, "retriever": retriever_name, "k": retriever.k,
                   "questions": len(records)},
        "questions": [r.to_dict() for r in records],
        "unavailable_metrics": unavailable,
    }
    result.unavailable.update(unavailable)
    result.notes += [f"{name} unavailable: {reason}" for name, reason in unavailable.items()]
    result.notes += generator.notes()  # e.g. parameters negotiated with a remote endpoint
    if generator_spec.startswith(OPENAI_PREFIX):
        result.machine["io_bound"] = True  # waits on an endpoint: CPU share says nothing
    result.phases = {"load": load_s, **phases}
    if judge is not None:
        judging = time.perf_counter()
        outcome = judge(records)
        result.phases["judge"] = time.perf_counter() - judging
        _apply_judge(result, outcome, answers)
    return result


@dataclass
class RetrievalTask:
    """A retriever and the questions to time it on (pytest-benchmark does the timing)."""

    settings: RagSettings
    retriever: Retriever
    questions: list[str]
    params: dict[str, Any]

    def run(self) -> None:
        for question in self.questions:
            self.retriever.retrieve(question)

    def result(self, round_seconds: Sequence[float], device: str = "cpu") -> Result:
        """Per-query retrieval time from the rounds' times (one round = every question once)."""
        n = len(self.questions)
        result = Result(SUITE, dict(self.params))
        p50 = cost(metrics.percentile(round_seconds, 50) / n, "s", kind="host_time",
                   device=device)
        p50.samples = [seconds / n for seconds in round_seconds]  # the rounds are the samples
        result.add("retrieval_p50_s", p50)
        result.add("retrieval_min_s", info(min(round_seconds) / n, "s"))
        result.add("rounds", info(len(round_seconds), "rounds"))
        return result


def retrieval_task(settings: RagSettings, retriever_name: str, *, device: str = "cpu",
                   corpus_dir: str | Path | None = None, qa_path: str | Path | None = None
                   ) -> RetrievalTask:
    """Build a retriever that needs no generator (not ``multi-query``) for timing alone."""
    if retriever_name == "multi-query":
        raise ValueError("multi-query retrieval includes an LLM call; it is timed end to end")
    corpus, items = load_data(settings, corpus_dir, qa_path)
    retriever = build_retriever(retriever_name, corpus, k=settings.k, embedder=settings.embedder,
                                device=device, ensemble_weights=settings.ensemble_weights,
                                rrf_c=settings.rrf_c)
    params = {key: value for key, value in
              _params(settings, "", retriever_name, corpus.digest, items).items()
              if key not in ("generator", "max_new_tokens", "batch_size", "prompts", "metrics")}
    params["timing"] = "retrieval only"
    return RetrievalTask(settings, retriever, [item.question for item in items], params)


@traceable(name="retrieve", run_type="retriever")
def _retrieve(retriever: Retriever, question: str) -> Retrieval:
    return retriever.retrieve(question)


@traceable(name="generate", run_type="llm")
def _generate(generator: Generator, prompts, *, max_new_tokens: int, batch_size: int):
    return generator.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)


def answer_questions(items: Sequence[QAItem], retriever: Retriever, generator: Generator, *,
                     max_new_tokens: int, batch_size: int,
                     phases: dict[str, float] | None = None) -> list[QuestionRecord]:
    """Retrieve for every question, then answer them in batches of ``batch_size``;
    ``phases`` receives the wall time of each step."""
    phases = {} if phases is None else phases
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
    records = []
    for item, (retrieval, retrieval_s), completion in zip(items, retrievals, completions):
        records.append(QuestionRecord(
            qid=item.qid, question=item.question, reference=item.reference,
            doc_ids=list(item.doc_ids),
            retrieved_doc_ids=_unique(p.doc_id for p in retrieval.passages),
            contexts=[p.text for p in retrieval.passages], queries=retrieval.queries,
            answer=completion.text,
            prompt_tokens=_plus(completion.prompt_tokens, retrieval.prompt_tokens),
            completion_tokens=_plus(completion.completion_tokens, retrieval.completion_tokens),
            retrieval_s=retrieval_s, generation_s=completion.seconds))
    return records


def score_answers(records: Sequence[QuestionRecord], extra_metrics: Sequence[str] = ()
                  ) -> tuple[dict[str, float], dict[str, str]]:
    """Lexical scores of the answers against the references, and the metrics that could not
    be computed here (name -> reason)."""
    answers = [r.answer for r in records]
    references = [r.reference for r in records]
    scores = {"bleu": metrics.bleu(answers, references),
              **metrics.rouge(answers, references)}
    unavailable: dict[str, str] = {}
    try:
        scores["meteor"] = metrics.meteor(answers, references)
    except WordNetUnavailable as exc:
        unavailable["meteor"] = str(exc)
    for spec in extra_metrics:
        try:
            scores.update(metrics.evaluate_metric(spec, answers, references))
        except metrics.MetricUnavailable as exc:
            unavailable[spec] = str(exc)
    return scores, unavailable


def score_retrieval(records: Sequence[QuestionRecord]) -> dict[str, float]:
    """Mean recall, reciprocal rank and nDCG over the questions that have labelled documents."""
    labelled = [r for r in records if r.doc_ids]
    if not labelled:
        return {}
    n = len(labelled)
    return {
        "recall_at_k": sum(metrics.recall(r.retrieved_doc_ids, r.doc_ids) for r in labelled) / n,
        "mrr": sum(metrics.reciprocal_rank(r.retrieved_doc_ids, r.doc_ids)
                   for r in labelled) / n,
        "ndcg": sum(metrics.ndcg(r.retrieved_doc_ids, r.doc_ids) for r in labelled) / n,
    }


def _add_tokens(result: Result, records: Sequence[QuestionRecord],
                unavailable: dict[str, str], determinism: Determinism) -> None:
    if any(r.prompt_tokens is None or r.completion_tokens is None for r in records):
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            unavailable[name] = "the endpoint did not report token usage for every request"
        return
    prompt = sum(r.prompt_tokens or 0 for r in records)
    completion = sum(r.completion_tokens or 0 for r in records)
    for name, value in (("prompt_tokens", prompt), ("completion_tokens", completion),
                        ("total_tokens", prompt + completion)):
        result.add(name, quality(value, "tokens", "lower", kind="tokens",
                                 determinism=determinism))


def _add_latency(result: Result, records: Sequence[QuestionRecord], wall_s: float,
                 device: str) -> None:
    latencies = [r.latency_s for r in records]
    for name, value in (("latency_p50_s", metrics.percentile(latencies, 50)),
                        ("latency_p95_s", metrics.percentile(latencies, 95)),
                        ("seconds_per_question", wall_s / len(records))):
        result.add(name, cost(value, "s", kind="host_time", device=device))
    result.add("retrieval_p50_s", info(metrics.percentile([r.retrieval_s for r in records], 50),
                                       "s"))


def _apply_judge(result: Result, outcome: JudgeOutcome, answers: Determinism) -> None:
    clash = set(outcome.metrics) & set(result.metrics)
    if clash:
        raise ValueError(f"judge metrics clash with the RAG metrics: {sorted(clash)}")
    judge = Determinism.SEEDED if outcome.artifacts.get("deterministic") else Determinism.NOISY
    for metric in outcome.metrics.values():
        if metric.compare:  # the judge's scores of this run's answers
            metric.determinism = Determinism.NOISY if answers is Determinism.NOISY else judge
    result.metrics.update(outcome.metrics)
    result.params.update({f"judge_{k}": v for k, v in outcome.params.items()})
    result.artifacts["judge"] = outcome.artifacts
    result.notes += outcome.notes


def _params(settings: RagSettings, generator_spec: str, retriever_name: str,
            corpus_digest: str, items: Sequence[QAItem]) -> dict[str, Any]:
    """The settings that define this benchmark (their hash decides baseline comparability)."""
    params: dict[str, Any] = {
        "generator": generator_spec,
        "retriever": retriever_name,
        "corpus": corpus_digest,
        "qa": qa_digest(items),
        "questions": len(items),
        "max_new_tokens": settings.max_new_tokens,
        "batch_size": settings.batch_size,
        "prompts": prompts_digest(),
        "metrics": sorted(settings.extra_metrics),
    }
    if retriever_name != "none":
        params["k"] = settings.k
        params["chunk_chars"] = settings.chunk_chars
    if retriever_name in ("dense", "ensemble", "multi-query"):
        params["embedder"] = settings.embedder
    if retriever_name == "ensemble":
        params["ensemble_weights"] = list(settings.ensemble_weights)
        params["rrf_c"] = settings.rrf_c
    if retriever_name == "multi-query":
        params["variant_tokens"] = settings.variant_tokens
    return params


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def _plus(a: int | None, b: int) -> int | None:
    return None if a is None else a + b
