"""``llmbench.rag.tracing``: runs reach LangSmith only with LANGSMITH_TRACING=true and a key."""

from __future__ import annotations

import time

import pytest
from fakes.langsmith_server import FakeLangSmith

from llmbench.rag.tracing import redact_secrets, traceable, tracing_active

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
