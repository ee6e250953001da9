"""The openai:<model> generator against a local chat-completions server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from fakes.openai_server import FakeOpenAI

from llmbench.profiles import RagSettings
from llmbench.suites.rag.generators import (
    GenerationError,
    GeneratorUnavailable,
    OpenAIGenerator,
    build_generator,
)
from llmbench.suites.rag.pipeline import run_rag_benchmark

KEY = "sk-test-secret-0123456789"
QUESTION = [{"role": "user", "content": "What colour are visitor lanyards?"}]


@pytest.fixture
def endpoint(monkeypatch):
    def use(server: FakeOpenAI) -> FakeOpenAI:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        return server
    return use


def test_answers_with_usage_from_the_api(endpoint):
    with endpoint(FakeOpenAI(reply=lambda messages: "Visitors wear red lanyards.")) as server:
        generator = build_generator("openai:fake-model")
        [completion] = generator.generate([QUESTION], max_new_tokens=16)
    assert completion.text == "Visitors wear red lanyards."
    assert (completion.prompt_tokens, completion.completion_tokens) == (5, 4)
    path, auth, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert auth == f"Bearer {KEY}"
    assert body["model"] == "fake-model"
    assert body["messages"] == QUESTION
    assert body["max_tokens"] == 16 and body["temperature"] == 0


def test_missing_key_is_unavailable_with_the_reason(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_BASE_URL", raising=False)
    with pytest.raises(GeneratorUnavailable, match="OPENAI_API_KEY"):
        build_generator("openai:gpt-4o-mini")


def test_rate_limit_is_retried_then_succeeds(endpoint):
    with endpoint(FakeOpenAI(fail_first=2)) as server:
        generator = OpenAIGenerator("openai:fake-model", "fake-model", max_retries=2)
        [completion] = generator.generate([QUESTION], max_new_tokens=8)
    assert completion.text == "What colour are visitor lanyards?"
    assert len(server.requests) == 3


def test_persistent_rate_limit_fails_clearly_without_the_key(endpoint):
    with endpoint(FakeOpenAI(fail_first=100)) as server:
        generator = OpenAIGenerator("openai:fake-model", "fake-model", max_retries=2)
        with pytest.raises(GenerationError, match=r"rate limited \(HTTP 429\).*gave up after 2 retries") \
                as caught:
            generator.generate([QUESTION], max_new_tokens=8)
    assert len(server.requests) == 3
    assert server.url in str(caught.value)
    assert KEY not in str(caught.value)


def test_server_errors_are_retried_then_reported(endpoint):
    with endpoint(FakeOpenAI(fail_first=100, fail_status=503)) as server:
        generator = OpenAIGenerator("openai:fake-model", "fake-model", max_retries=1)
        with pytest.raises(GenerationError, match=r"endpoint unavailable \(HTTP 503\).*gave up after 1 retries"):
            generator.generate([QUESTION], max_new_tokens=8)
    assert len(server.requests) == 2


def test_unreachable_endpoint_fails_clearly(monkeypatch):
    with socket.socket() as sock:  # a port on which nothing listens once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    generator = OpenAIGenerator("openai:fake-model", "fake-model", max_retries=1, timeout_s=2)
    with pytest.raises(GenerationError, match=r"endpoint unreachable \(ConnectError.*gave up after 1 retries"):
        generator.generate([QUESTION], max_new_tokens=8)


def test_timeout_fails_clearly(endpoint):
    with endpoint(FakeOpenAI(delay_s=1.0)):
        generator = OpenAIGenerator("openai:fake-model", "fake-model", max_retries=0,
                                    timeout_s=0.2)
        with pytest.raises(GenerationError, match="no answer within 0.2 s"):
            generator.generate([QUESTION], max_new_tokens=8)


def test_unknown_model_is_a_clear_error(endpoint):
    with endpoint(FakeOpenAI()) as server:
        generator = build_generator("openai:no-such-model")
        with pytest.raises(GenerationError, match=r"rejected the request \(HTTP 404\): The model 'no-such-model' does not exist. "
                                                  r"Check the model name"):
            generator.generate([QUESTION], max_new_tokens=8)
    assert len(server.requests) == 1  # a 404 is not retried


@pytest.fixture
def tiny_rag(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lanyards.md").write_text("Visitors wear red lanyards.\nStaff wear blue ones.\n")
    (corpus / "canteen.md").write_text("The canteen serves fish soup on Fridays.\n")
    (corpus / "parking.md").write_text("Parking spaces are booked a day ahead.\n")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        '{"id": "a", "question": "What colour lanyards do visitors wear?", '
        '"reference": "Visitors wear red lanyards.", "doc_ids": ["lanyards"]}\n'
        '{"id": "b", "question": "What does the canteen serve on Fridays?", '
        '"reference": "Fish soup on Fridays.", "doc_ids": ["canteen"]}\n')
    return RagSettings(corpus=str(corpus), qa=str(qa), k=1)


def _context_first_line(messages):
    user = messages[-1]["content"]
    return user.split("Context:\n", 1)[1].splitlines()[0] if "Context:" in user else "I am not sure."


def test_pipeline_through_the_endpoint(endpoint, tiny_rag):
    with endpoint(FakeOpenAI(reply=_context_first_line)) as server:
        result = run_rag_benchmark(tiny_rag, "openai:fake-model", "bm25")
    assert len(server.requests) == 2
    answers = [q["answer"] for q in result.artifacts["questions"]]
    assert answers == ["Visitors wear red lanyards.", "The canteen serves fish soup on Fridays."]
    assert result.metrics["recall_at_k"].value == 1.0
    usage = [r[2]["messages"] for r in server.requests]
    expected_prompt = sum(len(m["content"].split()) for msgs in usage for m in msgs)
    assert result.metrics["prompt_tokens"].value == expected_prompt
    assert result.metrics["completion_tokens"].value == 4 + 7
    assert result.metrics["rouge1"].value > 0.5


def test_pipeline_without_usage_reports_tokens_unavailable(endpoint, tiny_rag):
    settings = dataclasses.replace(tiny_rag, questions=1)
    with endpoint(FakeOpenAI(usage=False)):
        result = run_rag_benchmark(settings, "openai:fake-model", "none")
    assert "total_tokens" not in result.metrics
    assert "total_tokens" in result.unavailable  # "unavailable", not "missing", vs a baseline
    assert any(note.startswith("total_tokens unavailable") for note in result.notes)
