"""run_rag_benchmark end to end with a scripted generator: result shape, params, judge hook."""

from __future__ import annotations

import dataclasses

import pytest

from llmbench.profiles import RagSettings
from llmbench.regression.results import Direction, Scope, quality
from llmbench.suites.rag import pipeline
from llmbench.suites.rag.generators import Completion, Generator
from llmbench.suites.rag.pipeline import JudgeOutcome, retrieval_task, run_rag_benchmark


class ContextEcho(Generator):
    """Answers with the first line of the first context passage, or a fixed guess."""

    spec = "echo"

    def __init__(self, seconds=0.5):
        self.calls = []
        self.seconds = seconds  # what it reports as the wait for each completion

    def generate(self, prompts, *, max_new_tokens, batch_size=1):
        self.calls.append((len(prompts), batch_size))
        out = []
        for messages in prompts:
            user = messages[-1]["content"]
            text = (user.split("Context:\n", 1)[1].splitlines()[0] if "Context:" in user
                    else "I do not know.")
            out.append(Completion(text, len(user.split()), len(text.split()), self.seconds))
        return out


@pytest.fixture
def echo(monkeypatch):
    generator = ContextEcho()
    monkeypatch.setattr(pipeline, "build_generator", lambda spec, device="cpu": generator)
    return generator


@pytest.fixture
def settings(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lanyards.md").write_text("Visitors wear red lanyards.\n")
    (corpus / "soup.md").write_text("Fish soup is served on Fridays.\n")
    (corpus / "vans.md").write_text("The electric vans are Limpet and Barnacle.\n")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        '{"id": "a", "question": "What colour lanyards do visitors wear?", '
        '"reference": "Visitors wear red lanyards.", "doc_ids": ["lanyards"]}\n'
        '{"id": "b", "question": "When is fish soup served?", '
        '"reference": "Fish soup is served on Fridays.", "doc_ids": ["soup"]}\n'
        '{"id": "c", "question": "What are the vans called?", '
        '"reference": "Limpet and Barnacle.", "doc_ids": ["vans", "soup"]}\n')
    return RagSettings(corpus=str(corpus), qa=str(qa), k=1, batch_size=2, latency_requests=1)


def test_result_shape_and_metrics(echo, settings):
    result = run_rag_benchmark(settings, "echo", "bm25")
    assert result.suite == "rag"
    assert echo.calls == [(2, 2), (1, 1)]  # b and c in one batch, then a on its own
    for name in ("bleu", "meteor", "rouge1", "rouge2", "rougeL", "recall_at_k", "mrr", "ndcg"):
        assert result.metrics[name].direction is Direction.HIGHER
        assert result.metrics[name].scope is Scope.QUALITY
    assert result.metrics["recall_at_k"].value == pytest.approx((1 + 1 + 0.5) / 3)
    assert result.metrics["recall_at_k"].items == {"a": 1.0, "b": 1.0, "c": 0.5}
    assert result.metrics["mrr"].value == pytest.approx(1.0)
    assert result.metrics["rouge1"].value > 0.6
    assert set(result.metrics["rouge1"].items) == {"a", "b", "c"}
    assert result.metrics["meteor"].value == pytest.approx(
        sum(result.metrics["meteor"].items.values()) / 3)
    assert result.metrics["bleu"].items is None  # a corpus score
    assert result.metrics["completion_tokens"].value == 4 + 6 + 7
    record = result.artifacts["questions"][0]
    assert record["question"] == "What colour lanyards do visitors wear?"
    assert record["contexts"] == ["Visitors wear red lanyards."]
    assert record["retrieved_doc_ids"] == ["lanyards"]
    assert record["answer"] == "Visitors wear red lanyards."
    assert result.artifacts["config"]["label"] == "echo + bm25"


def test_latency_is_per_request_and_batch_time_is_throughput(settings, monkeypatch):
    """The first latency_requests questions are answered alone, timed end to end; the batch's
    claimed wait (here 100 s per completion) never enters the latency percentiles."""
    generator = ContextEcho(seconds=100.0)
    monkeypatch.setattr(pipeline, "build_generator", lambda spec, device="cpu": generator)
    result = run_rag_benchmark(dataclasses.replace(settings, latency_requests=2), "echo", "bm25")
    assert generator.calls == [(1, 2), (1, 1), (1, 1)]
    records = result.artifacts["questions"]
    assert [(r["qid"], r["alone"]) for r in records] == [("a", True), ("b", True), ("c", False)]
    alone = [r for r in records if r["alone"]]
    assert all(r["generation_s"] < 100.0 for r in alone)  # measured around its own request
    assert all(r["latency_s"] == pytest.approx(r["retrieval_s"] + r["generation_s"])
               for r in records)
    assert records[2]["generation_s"] == 100.0  # the batch's wait, kept in the record
    p50, p95 = result.metrics["latency_p50_s"], result.metrics["latency_p95_s"]
    assert p50.scope is p95.scope is Scope.COST
    assert p50.value == pytest.approx(sum(r["latency_s"] for r in alone) / 2)
    assert p50.value <= p95.value <= max(r["latency_s"] for r in alone)
    assert result.metrics["latency_requests"].value == 2
    assert result.metrics["batch_seconds_per_question"].scope is Scope.COST
    assert result.params["latency_requests"] == 2
    assert set(result.phases) >= {"retrieve", "generate", "requests"}


def test_when_every_question_is_answered_alone_nothing_is_batched(echo, settings):
    result = run_rag_benchmark(dataclasses.replace(settings, latency_requests=3), "echo", "bm25")
    assert echo.calls == [(1, 1)] * 3
    assert "batch_seconds_per_question" not in result.metrics  # nothing was batched
    assert result.metrics["latency_requests"].value == 3


def test_no_retrieval_has_no_retrieval_metrics(echo, settings):
    result = run_rag_benchmark(settings, "echo", "none")
    assert "recall_at_k" not in result.metrics
    assert result.artifacts["config"]["label"] == "echo (no retrieval)"
    assert "k" not in result.params
    assert all(r["contexts"] == [] for r in result.artifacts["questions"])


def test_params_define_the_benchmark(echo, settings):
    base = run_rag_benchmark(settings, "echo", "bm25").params
    assert base["generator"] == "echo" and base["retriever"] == "bm25"
    assert base["questions"] == 3 and base["k"] == 1
    fewer = run_rag_benchmark(dataclasses.replace(settings, questions=2), "echo", "bm25").params
    assert fewer["qa"] != base["qa"] and fewer["questions"] == 2
    assert "embedder" not in base  # BM25 does not embed
    ensemble = run_rag_benchmark(settings, "echo", "ensemble").params
    assert ensemble["ensemble_weights"] == [0.5, 0.5] and ensemble["rrf_c"] == 60


def test_corpus_and_qa_overrides(echo, settings, tmp_path):
    qa = tmp_path / "other.jsonl"
    qa.write_text('{"question": "Who?", "reference": "Nobody."}\n')
    result = run_rag_benchmark(settings, "echo", "bm25", qa_path=qa)
    assert result.params["questions"] == 1
    assert "recall_at_k" not in result.metrics  # no labelled documents


def test_the_judge_sees_the_records_and_adds_its_columns(echo, settings):
    seen = []

    def judge(records):
        seen.extend(records)
        return JudgeOutcome({"correctness": quality(0.75, "score", "higher", abs_tol=0.1)},
                            params={"spec": "fake", "repeats": 2},
                            artifacts={"per_question": [1, 0.5, 0.75]}, notes=["judged"])

    result = run_rag_benchmark(settings, "echo", "bm25", judge=judge)
    assert [r.qid for r in seen] == ["a", "b", "c"]
    assert seen[0].answer == "Visitors wear red lanyards." and seen[0].reference
    assert result.metrics["correctness"].value == 0.75
    assert result.params["judge_spec"] == "fake" and result.params["judge_repeats"] == 2
    assert result.artifacts["judge"] == {"per_question": [1, 0.5, 0.75]}
    assert "judged" in result.notes


def test_a_judge_may_not_overwrite_rag_metrics(echo, settings):
    def judge(records):
        return JudgeOutcome({"bleu": quality(1.0)})

    with pytest.raises(ValueError, match="clash"):
        run_rag_benchmark(settings, "echo", "bm25", judge=judge)


def test_extra_metric_unavailable_is_a_note_not_a_failure(echo, settings, monkeypatch):
    import sys
    from types import SimpleNamespace

    def offline(name):
        raise ConnectionError("offline")
    monkeypatch.setitem(sys.modules, "evaluate", SimpleNamespace(load=offline))
    settings = dataclasses.replace(settings, extra_metrics=("evaluate:bertscore",))
    result = run_rag_benchmark(settings, "echo", "bm25")
    assert "evaluate:bertscore" in result.artifacts["unavailable_metrics"]
    assert any(n.startswith("evaluate:bertscore unavailable") for n in result.notes)
    assert result.params["metrics"] == ["evaluate:bertscore"]


def test_zero_questions_is_an_error(echo, settings):
    with pytest.raises(ValueError, match="questions must be >= 1"):
        run_rag_benchmark(dataclasses.replace(settings, questions=0), "echo", "bm25")


def test_retrieval_task_times_every_question(settings):
    task = retrieval_task(settings, "bm25")
    assert len(task.questions) == 3
    task.run()
    result = task.result([0.3, 0.6, 0.9])
    assert result.metrics["retrieval_p50_s"].value == pytest.approx(0.2)  # 0.6 s / 3 questions
    assert result.metrics["retrieval_p50_s"].scope is Scope.COST
    assert result.params["timing"] == "retrieval only"
    assert "generator" not in result.params
    with pytest.raises(ValueError, match="timed end to end"):
        retrieval_task(settings, "multi-query")
