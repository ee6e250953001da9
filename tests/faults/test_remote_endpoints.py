"""Remote endpoints that fail: what is retried, what stops at once, how long anything waits.

Every scenario runs the real ``openai`` client against ``tests/fakes/openai_server.FakeOpenAI``
on 127.0.0.1 (hangs, 429s, validation errors, llama.cpp's answer to ``json_schema``, refused
parameters), through the ``openai:`` generator and judge.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import openai
import pytest
from fakes.openai_server import FakeOpenAI, llama_cpp_json_schema_fault, rejecting_params

from llmbench.core import remote
from llmbench.core.remote import (
    Endpoint,
    EndpointRejected,
    classify,
    remote_deadline,
)
from llmbench.judges import JudgeError, judge_records, make_judge
from llmbench.judges.structured_output import lenient_reply
from llmbench.profiles import RagSettings
from llmbench.suites.rag.generators import GenerationError, OpenAIGenerator, build_generator
from llmbench.suites.rag.pipeline import run_rag_benchmark

KEY = "sk-test-faults-0123456789abcdef"
QUESTION = [{"role": "user", "content": "What colour are visitor lanyards?"}]
GOOD_JUDGMENT = json.dumps({"reasoning": "It matches the reference.", "score": 0.9})


@pytest.fixture
def endpoint(monkeypatch):
    """Point ``openai:`` generators and judges at a fake server."""
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_API_KEY", raising=False)

    def use(server: FakeOpenAI) -> FakeOpenAI:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        return server
    return use


def generate(spec: str = "openai:fake-model", **kwargs) -> str:
    generator = build_generator(spec, **kwargs)
    return generator.generate([QUESTION], max_new_tokens=8)[0].text


def judge_once(spec: str = "openai:fake-model", **kwargs):
    return make_judge(spec, **kwargs).judge("correctness", "Q?", "A.", "R.")


# --- how long anything waits -------------------------------------------------------------------

def test_a_hanging_generator_endpoint_fails_at_the_deadline(endpoint):
    with endpoint(FakeOpenAI(hang=True)), remote_deadline(1.0):
        started = time.monotonic()
        with pytest.raises(GenerationError, match=r"did not answer within 1 s "
                                                  r"\(--remote-deadline\)"):
            generate()
    assert time.monotonic() - started < 10


def test_a_hanging_judge_endpoint_fails_the_benchmark_at_the_deadline(endpoint):
    with endpoint(FakeOpenAI(hang=True)), remote_deadline(1.0):
        started = time.monotonic()
        with pytest.raises(JudgeError, match="did not answer within 1 s"):
            judge_once()
    assert time.monotonic() - started < 10


class SteppedClock:
    """``time.monotonic`` as llmbench.core.remote sees it, moved on at will: time that passes
    without the real wait, so a deadline can be many times exceeded while every real round trip
    keeps a wide margin on a loaded machine."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def advance(self, seconds: float) -> None:
        self.skipped += seconds


@pytest.fixture
def clock(monkeypatch):
    stepped = SteppedClock()
    monkeypatch.setattr(remote, "time", SimpleNamespace(monotonic=stepped.monotonic,
                                                        sleep=time.sleep))
    return stepped


def test_local_work_does_not_count_against_the_deadline(endpoint, clock):
    with endpoint(FakeOpenAI()) as server, remote_deadline(10.0):
        assert generate() == "What colour are visitor lanyards?"
        clock.advance(60.0)  # a local generator or retriever at work for 6 deadlines
        assert generate() == "What colour are visitor lanyards?"
    assert len(server.requests) == 2


def test_an_answer_restarts_the_deadline(endpoint, clock):
    """The deadline bounds silence, not work: a slow endpoint that keeps answering is measured."""
    def slow_answer(number, body, headers):
        clock.advance(4.0)  # each answer takes 0.4 deadlines
        return None  # then answers normally

    with endpoint(FakeOpenAI(fault=slow_answer)) as server, remote_deadline(10.0):
        generator = build_generator("openai:fake-model")
        answers = generator.generate([QUESTION] * 5, max_new_tokens=8)  # 2 deadlines in all
    assert len(answers) == 5 and len(server.requests) == 5


HANGING_BENCH = '''
import functools

import pytest
from llmbench.profiles import RagSettings
from llmbench.judges import JudgeError, judge_records, make_judge
from llmbench.regression.results import Result, quality
from llmbench.suites.rag.pipeline import run_rag_benchmark

SETTINGS = RagSettings(corpus="{corpus}", qa="{qa}", k=1)


def test_judged_by_a_silent_endpoint(regression):
    try:
        judge = functools.partial(judge_records, judge_spec="openai:fake-model",
                                  judge=make_judge("openai:fake-model"))
        result = run_rag_benchmark(SETTINGS, "openai:fake-model", "none", judge=judge)
    except JudgeError as exc:
        pytest.fail(str(exc), pytrace=False)
    regression.check(result)


def test_unaffected(regression):
    regression.check(Result("rag", {{"case": "fine"}}, {{"bleu": quality(0.5)}}))
'''


def test_expiry_fails_that_benchmark_and_the_run_still_writes_everything(
        pytester, endpoint, monkeypatch, tiny_rag):
    with endpoint(FakeOpenAI(reply=lambda m: "Red.")), FakeOpenAI(hang=True) as silent:
        monkeypatch.setenv("LLMBENCH_JUDGE_OPENAI_BASE_URL", silent.url)
        pytester.makepyfile(test_bench=HANGING_BENCH.format(corpus=tiny_rag.corpus,
                                                            qa=tiny_rag.qa))
        started = time.monotonic()
        run = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider",
                                 "--update-baselines", "--baseline-dir", "baselines",
                                 "--bench-report", "report", "--remote-deadline", "1")
        elapsed = time.monotonic() - started
    run.assert_outcomes(passed=1, failed=1)
    assert elapsed < 60
    output = run.stdout.str()
    assert "endpoint openai:fake-model at " + silent.url in output
    assert "did not answer within 1 s (--remote-deadline)" in output
    results = json.loads(Path(pytester.path, "report", "results.json").read_text())
    by_id = {r["benchmark_id"]: r for r in results["benchmarks"]}
    assert by_id["bench/unaffected/default"]["outcome"] == "updated"
    assert "did not answer within 1 s" in by_id["bench/judged_by_a_silent_endpoint/default"][
        "message"]
    summary = Path(pytester.path, "report", "summary.md").read_text()
    assert "judged_by_a_silent_endpoint" in summary and "unaffected" in summary


# --- what is retried, what stops at once -------------------------------------------------------

def status_error(status: int, body: object, headers: dict | None = None) -> Exception:
    request = httpx.Request("POST", "http://x.test/v1/chat/completions")
    response = httpx.Response(status, json=body, headers=headers or {}, request=request)
    client = openai.OpenAI(api_key="k", base_url="http://x.test/v1", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(
                               lambda req: response)))
    try:
        client.chat.completions.create(model="m", messages=QUESTION)
    except openai.APIStatusError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("status,body,transient", [
    (429, {"error": {"message": "slow down"}}, True),
    (502, {"error": {"message": "bad gateway"}}, True),
    (503, {"error": {"message": "overloaded"}}, True),
    (504, "gateway timeout", True),
    (408, {"error": {"message": "request timeout"}}, True),
    (500, {"error": {"message": "boom", "type": "server_error"}}, True),
    # a validation error is a validation error whatever the status
    (500, {"detail": [{"loc": ["body", "response_format"], "msg": "bad", "type": "x"}]}, False),
    (500, {"error": {"message": "unparseable: bad", "type": "invalid_request_error"}}, False),
    (400, {"error": {"message": "bad request"}}, False),
    (401, {"error": {"message": "bad key"}}, False),
    (404, {"error": {"message": "no such model"}}, False),
    (422, {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}, False),
])
def test_retries_are_decided_by_status_and_body_structure(status, body, transient):
    failure = classify(status_error(status, body))
    assert failure.transient is transient
    assert failure.status == status


def test_retry_after_is_honoured():
    failure = classify(status_error(429, {"error": {"message": "x"}}, {"retry-after": "7"}))
    assert failure.retry_after_s == 7.0


def test_a_programming_error_is_neither_retried_nor_blamed_on_the_server(endpoint):
    with endpoint(FakeOpenAI()):
        generator = build_generator("openai:fake-model")
        generator.client = None  # our bug: AttributeError, not an endpoint failure
        with pytest.raises(AttributeError):
            generator.generate([QUESTION], max_new_tokens=8)


def test_a_server_that_rejects_every_request_stops_at_once_with_its_message(endpoint):
    fault = rejecting_params("messages", status=400)
    with endpoint(FakeOpenAI(fault=fault)) as server:
        with pytest.raises(GenerationError) as caught:
            generate()
    assert len(server.requests) == 1
    message = str(caught.value)
    assert "rejected the request (HTTP 400): Unsupported parameter: 'messages'" in message
    assert "The server does not accept the parameter 'messages'" in message  # what to change


def test_the_same_500_before_any_success_is_a_configuration_error(endpoint):
    def fault(number, body, headers):
        return 500, {"error": {"message": "model failed to load", "type": "server_error"}}

    with endpoint(FakeOpenAI(fault=fault)) as server:
        started = time.monotonic()
        with pytest.raises(GenerationError, match=r"answered the first 3 requests with the same "
                                                  r"error \(HTTP 500\): model failed to load"):
            generate(max_retries=10)
    assert len(server.requests) == 3
    assert time.monotonic() - started < 30


def test_a_judge_whose_server_rejects_everything_stops_within_30_s(endpoint):
    def fault(number, body, headers):
        return 500, {"error": {"message": "llama_decode returned -1", "type": "server_error"}}

    with endpoint(FakeOpenAI(fault=fault)) as server:
        started = time.monotonic()
        with pytest.raises(JudgeError, match="llama_decode returned -1"):
            judge_records([{"question": "Q", "answer": "A", "reference": "R"}] * 60,
                          "openai:fake-model", judge=make_judge("openai:fake-model"))
        elapsed = time.monotonic() - started
    assert elapsed < 30
    assert len(server.requests) <= 6  # not 120 judgments x retries


def test_a_validation_error_reported_as_500_stops_at_once(endpoint):
    def fault(number, body, headers):
        return 500, {"detail": [{"loc": ["body", "max_tokens"], "msg": "must be > 0",
                                 "type": "value_error"}]}

    with endpoint(FakeOpenAI(fault=fault)) as server:
        with pytest.raises(GenerationError, match=r"HTTP 500\): \[\{'loc'"):
            generate()
    assert len(server.requests) == 1


def test_transient_failures_are_retried_and_the_wait_is_logged(endpoint, caplog):
    with endpoint(FakeOpenAI(fail_first=2, fail_status=503)) as server:
        with caplog.at_level(logging.WARNING, logger="llmbench"):
            assert generate() == "What colour are visitor lanyards?"
    assert len(server.requests) == 3
    waits = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(waits) == 2
    assert "endpoint unavailable (HTTP 503); retry 1/3 in 0.0 s" in waits[0]
    assert "left of --remote-deadline" in waits[0]


def test_a_rate_limit_that_outlasts_the_retries_leaves_the_judgment_unscored(endpoint):
    with endpoint(FakeOpenAI(fail_first=100)) as server:
        judgment = judge_once(retries=2)
    assert judgment.score is None and judgment.error == "rate limited (HTTP 429)"
    assert len(server.requests) == 3


# --- structured output negotiated with the judge's endpoint ------------------------------------

def test_llama_cpp_refusing_json_schema_is_judged_in_json_mode_and_remembered(endpoint):
    with endpoint(FakeOpenAI(reply=lambda m: GOOD_JUDGMENT,
                             fault=llama_cpp_json_schema_fault)) as server:
        judge = make_judge("openai:fake-model")
        first = judge.judge("correctness", "Q?", "A.", "R.")
        sent_before = len(server.requests)
        second = judge.judge("helpfulness", "Q?", "A.", None)
    assert first.score == second.score == 0.9
    formats = [body.get("response_format", {}).get("type") for _, _, body in server.requests]
    # json_schema: the first 500 is retried until it repeats 3 times, then JSON mode answers;
    # the next judgment goes straight to JSON mode
    assert formats[:3] == ["json_schema"] * 3 and formats[3:] == ["json_object"] * 2
    assert len(server.requests) - sent_before == 1
    json_mode = server.requests[-1][2]
    assert json_mode["response_format"]["schema"]["required"] == ["reasoning", "score"]
    assert '"score"' in json_mode["messages"][-1]["content"]  # the schema is in the prompt
    assert judge.structured_output == "json_object+schema"
    [note] = judge.notes()
    assert "structured output 'json_object+schema'" in note
    assert "json_schema: HTTP 500" in note


def test_a_server_without_json_modes_is_judged_in_plain_text_parsed_leniently(endpoint):
    fault = rejecting_params("response_format=json_schema", "response_format=json_object")
    reply = "The answer matches the reference.\nThus, the score should be: 0.75"
    with endpoint(FakeOpenAI(reply=lambda m: reply, fault=fault)) as server:
        outcome = judge_records([{"question": "Q", "answer": "A", "reference": "R"}],
                                "openai:fake-model", judge=make_judge("openai:fake-model"))
    assert outcome.metrics["correctness"].value == 0.75
    assert outcome.artifacts["structured_output"] == "text"
    assert "response_format" not in server.requests[-1][2]
    assert any("structured output 'text'" in note for note in outcome.notes)


@pytest.mark.parametrize("text,score", [
    ('Sure!\n```json\n{"reasoning": "right", "score": 0.8}\n```', 0.8),
    ('{"score": "0.6"}', 0.6),
    ("Reasoning... Thus, the score should be: 1.0.", 1.0),
    ("score: false", 0.0),
])
def test_lenient_parsing(text, score):
    assert lenient_reply(text)["score"] == score


def test_no_score_in_a_reply_is_not_invented():
    assert lenient_reply("I cannot judge this answer.") is None


def test_a_refused_key_is_not_negotiated_away(endpoint):
    def fault(number, body, headers):
        return 401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}}

    with endpoint(FakeOpenAI(fault=fault)) as server:
        with pytest.raises(JudgeError, match=r"HTTP 401\): invalid api key.*Check OPENAI_API_KEY"):
            judge_once()
    assert len(server.requests) == 1


# --- generator parameters negotiated with the endpoint -----------------------------------------

@pytest.fixture
def tiny_rag(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lanyards.md").write_text("Visitors wear red lanyards.\nStaff wear blue ones.\n")
    (corpus / "canteen.md").write_text("The canteen serves fish soup on Fridays.\n")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        '{"id": "a", "question": "What colour lanyards do visitors wear?", '
        '"reference": "Visitors wear red lanyards.", "doc_ids": ["lanyards"]}\n'
        '{"id": "b", "question": "What does the canteen serve on Fridays?", '
        '"reference": "Fish soup on Fridays.", "doc_ids": ["canteen"]}\n')
    return RagSettings(corpus=str(corpus), qa=str(qa), k=1)


def test_max_completion_tokens_when_the_server_refuses_max_tokens(endpoint, tiny_rag):
    with endpoint(FakeOpenAI(fault=rejecting_params("max_tokens"))) as server:
        result = run_rag_benchmark(tiny_rag, "openai:fake-model", "none")
    sent = [body for _, _, body in server.requests]
    assert "max_tokens" in sent[0] and "max_completion_tokens" not in sent[0]
    assert all(b["max_completion_tokens"] == tiny_rag.max_new_tokens for b in sent[1:])
    assert len(sent) == 1 + 2  # one refusal, then both questions
    assert any("sends max_completion_tokens (the server refused max_tokens)" in n
               for n in result.notes)


def test_temperature_refused_is_dropped_and_the_notes_say_answers_are_sampled(endpoint,
                                                                               tiny_rag):
    with endpoint(FakeOpenAI(fault=rejecting_params("temperature"))) as server:
        result = run_rag_benchmark(tiny_rag, "openai:fake-model", "none")
    assert "temperature" not in server.requests[-1][2]
    assert any("answers are sampled, not greedy" in n for n in result.notes)


def test_usage_without_completion_tokens_reports_tokens_unavailable(endpoint, tiny_rag):
    with endpoint(FakeOpenAI(usage_fields=("prompt_tokens",))):
        result = run_rag_benchmark(tiny_rag, "openai:fake-model", "none")
    records = result.artifacts["questions"]
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] is None for r in records)
    assert "total_tokens" not in result.metrics
    assert "did not report token usage" in result.artifacts["unavailable_metrics"][
        "completion_tokens"]


def test_a_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        assert generate() == "What colour are visitor lanyards?"
    assert server.requests[0][1] == "Bearer no-key"


def test_the_judge_can_use_its_own_server(endpoint, monkeypatch):
    with endpoint(FakeOpenAI()) as generator_server, \
            FakeOpenAI(reply=lambda m: GOOD_JUDGMENT) as judge_server:
        monkeypatch.setenv("LLMBENCH_JUDGE_OPENAI_BASE_URL", judge_server.url)
        assert judge_once().score == 0.9
    assert generator_server.requests == [] and len(judge_server.requests) == 1


def test_endpoint_errors_carry_the_failure_for_callers():
    error = EndpointRejected("x", classify(status_error(400, {"error": {"param": "seed"}})))
    assert error.failure.param == "seed"
    assert str(Endpoint("openai:m", "http://h/v1", "m")) == "openai:m at http://h/v1"


def test_openai_generator_accepts_a_ready_client(endpoint):
    """The client passed in is the one used: the environment points at another server."""
    with endpoint(FakeOpenAI(reply=lambda m: "from the environment's server")) as elsewhere, \
            FakeOpenAI(reply=lambda m: "from the client's server") as server:
        client = openai.OpenAI(api_key="client-key", base_url=server.url, max_retries=0)
        generator = OpenAIGenerator("openai:fake-model", "fake-model", client=client)
        [answer] = generator.generate([QUESTION], max_new_tokens=4)
    assert answer.text == "from the client's server"
    assert elsewhere.requests == []
    [(_, authorization, _)] = server.requests
    assert authorization == "Bearer client-key"
    assert str(generator.endpoint).startswith(f"openai:fake-model at {server.url}")
