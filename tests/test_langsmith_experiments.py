"""A RAG configuration as a LangSmith experiment, uploaded to a fake LangSmith on 127.0.0.1."""

from __future__ import annotations

import pytest
from fakes.judge_clients import keyword_judge
from fakes.langsmith_server import FakeLangSmith

from llmbench.judges import judge_records, make_judge
from llmbench.suites.rag.langsmith_experiments import (
    dataset_name_for,
    experiment_prefix,
    langsmith_unavailable,
    record_experiment,
)

FAKE_KEY = "lsv2_pt_fake0000secret0000key"
RECORDS = [
    {"question": "Who founded Nordwick?", "answer": "Ilse Varnum.",
     "reference": "Ilse Varnum and Tobias Eke.", "contexts": ["Nordwick was founded ..."],
     "latency_s": 1.5},
    {"question": "How long is the tank?", "answer": "No idea.",
     "reference": "90 metres.", "contexts": [], "latency_s": 0.5},
]


@pytest.fixture
def fake_langsmith(monkeypatch):
    with FakeLangSmith() as fake:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", fake.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", FAKE_KEY)
        monkeypatch.delenv("LANGSMITH_TRACING", raising=False)
        yield fake


def judged(records, repeats=2):
    judge = make_judge("openai:gpt-test", client=keyword_judge({"Ilse": 0.9}, default=0.2))
    return judge_records(records, "openai:gpt-test", repeats, judge=judge)


def test_without_a_key_langsmith_is_unavailable_with_the_reason(monkeypatch):
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)
    assert "LANGSMITH_API_KEY" in langsmith_unavailable()
    monkeypatch.setenv("LANGSMITH_API_KEY", FAKE_KEY)
    assert langsmith_unavailable() is None


def test_each_question_arrives_as_a_run_with_judge_feedback(fake_langsmith):
    report = judged(RECORDS)
    summary = record_experiment(RECORDS, report.artifacts,
                                prefix=experiment_prefix("smollm2-135m", "dense"),
                                metadata={"generator": "smollm2-135m", "retriever": "dense"})
    assert "error" not in summary
    assert summary["experiment"].startswith("smollm2-135m + dense-")
    assert (summary["runs"], summary["feedback"]) == (2, 4)

    [session] = fake_langsmith.sessions.values()
    assert session["name"] == summary["experiment"]
    [dataset] = fake_langsmith.datasets.values()
    assert session["reference_dataset_id"] == dataset["id"]
    assert session["extra"]["metadata"]["retriever"] == "dense"
    assert session.get("end_time")  # the experiment was closed
    examples = {e["id"]: e for e in fake_langsmith.examples.values()}
    assert sorted(e["inputs"]["question"] for e in examples.values()) == \
        sorted(r["question"] for r in RECORDS)

    runs = {r["inputs"]["question"]: r for r in fake_langsmith.runs_in(summary["experiment"])}
    assert sorted(runs) == sorted(r["question"] for r in RECORDS)
    founder, tank = (runs[r["question"]] for r in RECORDS)
    assert founder["outputs"] == {"answer": "Ilse Varnum.",
                                  "contexts": ["Nordwick was founded ..."]}
    assert examples[founder["reference_example_id"]]["outputs"] == \
        {"answer": "Ilse Varnum and Tobias Eke."}

    feedback = fake_langsmith.feedback_for(founder["id"])
    assert set(feedback) == {"correctness", "helpfulness"}
    assert feedback["correctness"]["score"] == pytest.approx(0.9)
    assert "mean of 2 judgment(s)" in feedback["correctness"]["comment"]
    assert fake_langsmith.feedback_for(tank["id"])["helpfulness"]["score"] == pytest.approx(0.2)
    assert tank["end_time"] > tank["start_time"]  # the answer's latency


def test_configurations_share_one_dataset_and_get_one_experiment_each(fake_langsmith):
    report = judged(RECORDS, repeats=1)
    first = record_experiment(RECORDS, report.artifacts, prefix="smollm2-135m + dense")
    second = record_experiment(RECORDS, report.artifacts, prefix="smollm2-135m + bm25")
    assert first["dataset"] == second["dataset"] == dataset_name_for(RECORDS)
    assert len(fake_langsmith.datasets) == 1 and len(fake_langsmith.examples) == 2
    assert len(fake_langsmith.sessions) == 2
    assert len(fake_langsmith.runs_in(second["experiment"])) == 2


def test_unscored_questions_get_no_feedback(fake_langsmith):
    report = judged(RECORDS, repeats=1)
    report.artifacts["feedback"]["correctness"]["mean_per_question"][1] = None
    summary = record_experiment(RECORDS, report.artifacts, prefix="m + r")
    assert summary["feedback"] == 3


def test_the_api_key_travels_only_in_the_auth_header(fake_langsmith):
    record_experiment(RECORDS, judged(RECORDS).artifacts, prefix="m + r")
    assert fake_langsmith.requests
    assert all(key == FAKE_KEY for _, _, key in fake_langsmith.requests)
    assert not any(FAKE_KEY.encode() in body for body in fake_langsmith.raw_bodies)


def test_an_unreachable_endpoint_is_reported_not_raised(monkeypatch):
    from langsmith import Client

    with FakeLangSmith() as fake:
        url = fake.url  # a port that was just free and is closed again below
    monkeypatch.setenv("LANGSMITH_API_KEY", FAKE_KEY)
    client = Client(api_url=url, api_key=FAKE_KEY, timeout_ms=2000,
                    retry_config={"max_retries": 0})
    summary = record_experiment(RECORDS, None, prefix="m + r", client=client)
    assert summary["error"].startswith("LangSmith upload failed")
    assert FAKE_KEY not in summary["error"]
