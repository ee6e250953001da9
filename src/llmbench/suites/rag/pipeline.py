"""One RAG configuration (generator x retriever) measured end to end on a QA set.

``run_rag_benchmark`` loads the corpus and questions, retrieves and answers every question (a few
alone, the rest in batches), scores the answers and the rankings, and returns a ``Result`` (suite ``rag``) whose
artifacts keep one record per question. An optional ``judge`` adds its own metrics (the LLM
judge's correctness and helpfulness) from those records.

Two timings, two meanings (``answering``): ``latency_p50_s`` / ``latency_p95_s`` are the
end-to-end latencies (retrieve + generate, batch size 1) of the first ``latency_requests``
questions, each answered as one request; ``batch_seconds_per_question`` is the wall time of
answering the other questions in batches of ``batch_size``, per question: throughput.
All of them are ``host_time``: a small model answering short questions is paced by Python and
kernel launches on a GPU too (``regression.tolerances``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.core.fixtures import fixture_path
from llmbench.core.specs import FIXTURES_PREFIX
from llmbench.judges import JudgeOutcome
from llmbench.profiles import RagSettings
from llmbench.regression.results import (
    Determinism,
    Metric,
    Result,
    cost,
    info,
    quality,
    seeded_on,
)
from llmbench.suites.rag import metrics
from llmbench.suites.rag.answering import QuestionRecord, answer_questions
from llmbench.suites.rag.data import Corpus, QAItem, load_corpus, load_qa, qa_digest
from llmbench.suites.rag.generators import OPENAI_PREFIX, build_generator
from llmbench.suites.rag.prompts import prompts_digest
from llmbench.suites.rag.rankings import Ranking, mean_scores, scores_by_question
from llmbench.suites.rag.retrievers import Retriever, build_retriever
from llmbench.suites.rag.wordnet import WordNetUnavailable

SUITE = "rag"
# Lexical scores of greedy answers are near-deterministic on one device class; a different CPU
# can flip a few greedy tokens, hence the small absolute slack.


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
                               batch_size=settings.batch_size,
                               alone=min(settings.latency_requests, len(items)), phases=phases)

    result = Result(SUITE, _params(settings, generator_spec, retriever_name, corpus.digest,
                                   items))
    # Greedy answers of a local model are reproducible on CPU; a remote model's are not.
    answers = (Determinism.NOISY if generator_spec.startswith(OPENAI_PREFIX)
               else seeded_on(device))
    answer_scores, per_question, unavailable = score_answers(records, settings.extra_metrics)
    for name, value in answer_scores.items():
        result.add(name, _score(value, per_question.get(name), "text_score", device, answers))
    if retriever_name != "none":
        # multi-query retrieval depends on the generator's query variants
        ranking = answers if retriever_name == "multi-query" else seeded_on(device)
        kind = "text_score" if retriever_name == "multi-query" else "retrieval_score"
        means, per_question = score_retrieval(records)
        for name, value in means.items():
            result.add(name, _score(value, per_question[name], kind, device, ranking))
    _add_tokens(result, records, unavailable, answers)
    _add_latency(result, records, phases, device)
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
    """A retriever and the questions to time it on (pytest-benchmark does the timing, or
    ``time_rounds`` where pytest-benchmark is off: under xdist it disables itself)."""

    settings: RagSettings
    retriever: Retriever
    questions: list[str]
    params: dict[str, Any]

    def run(self) -> None:
        for question in self.questions:
            self.retriever.retrieve(question)

    def time_rounds(self, rounds: int, warmup_rounds: int = 1) -> list[float]:
        """Seconds of each of ``rounds`` timed rounds after ``warmup_rounds`` untimed ones: what
        ``benchmark.pedantic(run, rounds, warmup_rounds, iterations=1)`` measures."""
        for _ in range(warmup_rounds):
            self.run()
        seconds = []
        for _ in range(rounds):
            start = time.perf_counter()
            self.run()
            seconds.append(time.perf_counter() - start)
        return seconds

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
    params = {**retrieval_params(settings, retriever_name, corpus.digest, items),
              "timing": "retrieval only"}
    return RetrievalTask(settings, retriever, [item.question for item in items], params)


def retrieval_params(settings: RagSettings, retriever_name: str, corpus_digest: str,
                     items: Sequence[QAItem]) -> dict[str, Any]:
    """The params of a benchmark of retrieval alone (no generator, no answers)."""
    return {key: value for key, value in
            _params(settings, "", retriever_name, corpus_digest, items).items()
            if key not in ("generator", "max_new_tokens", "batch_size", "prompts", "metrics",
                           "latency_requests")}


def score_answers(records: Sequence[QuestionRecord], extra_metrics: Sequence[str] = ()
                  ) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, str]]:
    """Lexical scores of the answers against the references; each question's METEOR and ROUGE
    (metric -> question id -> score; BLEU is a corpus score); and the metrics that could not be
    computed here (name -> reason)."""
    answers = [r.answer for r in records]
    references = [r.reference for r in records]
    ids = [r.qid for r in records]
    per_question = {kind: dict(zip(ids, values))
                    for kind, values in metrics.rouge_scores(answers, references).items()}
    scores = {"bleu": metrics.bleu(answers, references),
              **{kind: _mean(values.values()) for kind, values in per_question.items()}}
    unavailable: dict[str, str] = {}
    try:
        per_question["meteor"] = dict(zip(ids, metrics.meteor_scores(answers, references)))
        scores["meteor"] = _mean(per_question["meteor"].values())
    except WordNetUnavailable as exc:
        unavailable["meteor"] = str(exc)
    for spec in extra_metrics:
        try:
            scores.update(metrics.evaluate_metric(spec, answers, references))
        except metrics.MetricUnavailable as exc:
            unavailable[spec] = str(exc)
    return scores, per_question, unavailable


def score_retrieval(records: Sequence[QuestionRecord]
                    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean recall, reciprocal rank and nDCG over the questions with labelled documents (no
    means when none is labelled), and each question's."""
    rankings = [Ranking(r.qid, tuple(r.doc_ids), tuple(r.retrieved_doc_ids)) for r in records]
    return mean_scores(rankings), scores_by_question(rankings)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def _score(value: float, items: dict[str, float] | None, kind: str, device: str,
           determinism: Determinism) -> Metric:
    metric = quality(value, "score", "higher", kind=kind, device=device, determinism=determinism)
    metric.items = items or None
    return metric


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


def _add_latency(result: Result, records: Sequence[QuestionRecord], phases: dict[str, float],
                 device: str) -> None:
    """Per-request latency of the questions answered alone; batch time per question of the
    others (``answering``)."""
    alone = [r.latency_s for r in records if r.alone]
    if alone:
        for name, q in (("latency_p50_s", 50), ("latency_p95_s", 95)):
            result.add(name, cost(metrics.percentile(alone, q), "s", kind="host_time", device=device))
        result.add("latency_requests", info(len(alone), "requests"))
    batched = sum(not r.alone for r in records)
    if batched:
        seconds = (phases.get("retrieve", 0.0) + phases.get("generate", 0.0)) / batched
        result.add("batch_seconds_per_question", cost(seconds, "s", kind="host_time", device=device))
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
        "latency_requests": settings.latency_requests,
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
