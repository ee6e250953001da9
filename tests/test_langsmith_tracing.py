"""``llmbench.core.tracing``: runs reach LangSmith only with LANGSMITH_TRACING=true and a key."""

from __future__ import annotations

import time

import pytest
from fakes.langsmith_server import FakeLangSmith

from llmbench.core.tracing import redact_secrets, traceable, tracing_active

FAKE_KEY = "lsv2_pt_fake0000secret0000key"


@traceable(name="retrieve", run_type="retriever")
def retrieve(question: str) -> list[str]:
    return [f"passage about {question}"]


@traceable(name="rag", run_type="chain")
def answer(question: str) -> str:
    return f"answer from {retrieve(question)[0]}"


@pytest.fixture
def fake_langsmith(monkeypatch):
    from langsmith.utils import get_env_var

    with FakeLangSmith() as fake:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", fake.url)
        monkeypatch.setenv("LANGSMITH_PROJECT", "llmbench-tracing-test")
        get_env_var.cache_clear()  # langsmith memoizes its environment; tests change it
        yield fake
    get_env_var.cache_clear()


@pytest.mark.parametrize("env", [{}, {"LANGSMITH_TRACING": "true"},
                                 {"LANGSMITH_API_KEY": FAKE_KEY},
                                 {"LANGSMITH_TRACING": "false", "LANGSMITH_API_KEY": FAKE_KEY}],
                         ids=["nothing", "no-key", "not-asked", "switched-off"])
def test_tracing_is_off_unless_asked_for_with_a_key(env, fake_langsmith, monkeypatch):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY",
                 "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert not tracing_active()
    assert answer("tides") == "answer from passage about tides"
    time.sleep(0.2)
    assert fake_langsmith.requests == []


def test_traced_steps_arrive_as_nested_runs(fake_langsmith, monkeypatch):
    from langsmith import Client
    from langsmith.run_helpers import tracing_context
    from langsmith.utils import get_env_var

    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_API_KEY", FAKE_KEY)
    get_env_var.cache_clear()
    assert tracing_active()
    client = Client(api_url=fake_langsmith.url, api_key=FAKE_KEY)
    with tracing_context(client=client):
        assert answer("tides") == "answer from passage about tides"
    client.flush()
    runs = {run["name"]: run for run in fake_langsmith.runs.values()}
    assert set(runs) == {"rag", "retrieve"}
    assert runs["retrieve"]["run_type"] == "retriever"
    assert runs["retrieve"]["inputs"] == {"question": "tides"}
    assert runs["retrieve"]["outputs"]["output"] == ["passage about tides"]
    assert runs["retrieve"]["parent_run_id"] == runs["rag"]["id"]
    assert runs["rag"]["session_name"] == "llmbench-tracing-test"
    assert not any(FAKE_KEY.encode() in body for body in fake_langsmith.raw_bodies)


def test_redact_secrets_hides_key_values(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    assert redact_secrets("bad key sk-test-0123456789 given") == "bad key *** given"


def openai_judge_client(openai_key: str):
    import httpx
    import openai

    def reply(request):
        return httpx.Response(200, json={
            "id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": '{"reasoning": "fine", "score": 0.7}'}}]})

    return openai.OpenAI(api_key=openai_key, base_url="http://judge.test/v1",
                         http_client=httpx.Client(transport=httpx.MockTransport(reply)))


RECORDS = [{"question": "How long is the tank?", "answer": "90 metres.",
            "reference": "The tank is 90 metres long."}]


def test_judge_runs_are_traced_without_the_client_or_its_key(fake_langsmith, monkeypatch):
    from langsmith import Client
    from langsmith.run_helpers import tracing_context
    from langsmith.utils import get_env_var

    from llmbench.judges import judge_records, make_judge

    openai_key = "sk-test-tracing-0123456789"
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_API_KEY", FAKE_KEY)
    get_env_var.cache_clear()
    judge = make_judge("openai:gpt-test", client=openai_judge_client(openai_key))
    client = Client(api_url=fake_langsmith.url, api_key=FAKE_KEY)
    with tracing_context(client=client):
        outcome = judge_records(RECORDS, "openai:gpt-test", judge=judge)
    client.flush()
    assert outcome.metrics["correctness"].value == 0.7
    judge_runs = [r for r in fake_langsmith.runs.values() if r["name"] == "judge"]
    assert len(judge_runs) == 2  # correctness and helpfulness
    assert {r["inputs"]["judge"] for r in judge_runs} == {"openai:gpt-test"}
    assert any(r["name"] == "llm_as_correctness_judge" for r in fake_langsmith.runs.values())
    bodies = b"".join(fake_langsmith.raw_bodies)
    assert openai_key.encode() not in bodies and FAKE_KEY.encode() not in bodies


def test_tracing_asked_for_without_a_key_keeps_openevals_quiet(fake_langsmith, monkeypatch):
    from langsmith.utils import get_env_var

    from llmbench.judges import judge_records, make_judge

    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)
    get_env_var.cache_clear()
    judge = make_judge("openai:gpt-test", client=openai_judge_client("sk-test-unused-key"))
    judge_records(RECORDS, "openai:gpt-test", judge=judge)
    time.sleep(0.3)
    assert fake_langsmith.requests == []


def test_plain_inputs_name_objects_by_type():
    from llmbench.core.tracing import plain_inputs

    class Retriever:
        api_key = "secret"

    assert plain_inputs({"question": "q", "k": 3, "ids": ["a"], "retriever": Retriever()}) == \
        {"question": "q", "k": 3, "ids": ["a"], "retriever": "<Retriever>"}
