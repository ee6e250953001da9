"""An endpoint that goes away is named at once: connections that fail in a row stop the
benchmark with the endpoint's URL and the error (``EndpointGone``, outcome ``error``), after a
few attempts instead of at the deadline; a connection that fails now and then keeps its retries.

The servers are ``tests/fakes/openai_server.FakeOpenAI`` on 127.0.0.1, killed mid-run
(``die_after``: the port closes, as when a server crashes) or never started.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import openai
import pytest
from fakes.openai_server import FakeOpenAI

from llmbench.core import remote
from llmbench.core.remote import (
    GONE_AFTER,
    UNREACHABLE_STOPS_AFTER,
    Endpoint,
    EndpointGone,
    EndpointMemory,
    call_endpoint,
)
from llmbench.judges import judge_records, make_judge
from llmbench.suites.rag.generators import build_generator

KEY = "sk-test-gone-0123456789abcdef"
QUESTION = [{"role": "user", "content": "What colour are visitor lanyards?"}]
JUDGMENT = json.dumps({"reasoning": "It matches.", "score": 0.9})
URL = "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    """Retries keep their number; only the waits between them shrink."""
    monkeypatch.setattr(remote, "BACKOFF_FIRST_S", 0.001)


@pytest.fixture
def endpoint(monkeypatch):
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_API_KEY", raising=False)

    def use(url: str) -> str:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        return url
    return use


def dead_url() -> str:
    """The URL of a server that was started and stopped: its port refuses connections."""
    with FakeOpenAI() as server:
        return server.url


def retries_logged(caplog) -> int:
    return sum("retry" in r.getMessage() for r in caplog.records if r.name == "llmbench")


# --- the rule, on scripted failures --------------------------------------------------------------

def refused(timeout: float):
    raise openai.APIConnectionError(request=httpx.Request("POST", URL))


def timed_out(timeout: float):
    raise openai.APITimeoutError(request=httpx.Request("POST", URL))


def attempts_until_gone(request, memory: EndpointMemory, retries: int = 10) -> int:
    calls = []

    def counted(timeout: float):
        calls.append(timeout)
        return request(timeout)

    with pytest.raises(EndpointGone):
        call_endpoint(counted, Endpoint("openai:m", URL, "m"), retries=retries, memory=memory,
                      sleep=lambda s: None)
    return len(calls)


def test_connections_refused_from_the_start_stop_after_a_few_attempts():
    assert attempts_until_gone(refused, EndpointMemory()) == UNREACHABLE_STOPS_AFTER == 3


def test_after_answers_it_takes_one_request_and_its_retries():
    memory = EndpointMemory()
    endpoint = Endpoint("openai:m", URL, "m")
    assert call_endpoint(lambda timeout: "fine", endpoint, memory=memory) == "fine"
    assert attempts_until_gone(refused, memory) == GONE_AFTER == remote.DEFAULT_RETRIES + 1


def test_failed_connections_count_across_requests_until_something_connects():
    memory = EndpointMemory()
    endpoint = Endpoint("openai:m", URL, "m")
    with pytest.raises(remote.EndpointUnavailable):  # 2 refusals, out of retries
        call_endpoint(refused, endpoint, retries=1, memory=memory, sleep=lambda s: None)
    assert attempts_until_gone(refused, memory) == 1  # the third in a row

    memory = EndpointMemory()
    with pytest.raises(remote.EndpointUnavailable):
        call_endpoint(refused, endpoint, retries=1, memory=memory, sleep=lambda s: None)
    with pytest.raises(remote.EndpointUnavailable):  # a timeout: something answered the call
        call_endpoint(timed_out, endpoint, retries=0, memory=memory, sleep=lambda s: None)
    assert attempts_until_gone(refused, memory) == 3


# --- real connections ----------------------------------------------------------------------------

def test_a_generator_server_killed_mid_run_is_named_with_its_error(endpoint, caplog):
    caplog.set_level(logging.WARNING, logger="llmbench")
    with FakeOpenAI(die_after=2) as server:
        url = endpoint(server.url)
        generator = build_generator("openai:fake-model")
        with pytest.raises(EndpointGone) as caught:
            generator.generate([QUESTION] * 5, max_new_tokens=8)
    message = str(caught.value)
    assert f"openai:fake-model at {url}/ stopped answering" in message
    assert "it had answered 2 request(s)" in message
    assert "endpoint unreachable (" in message  # the connection error, as the client saw it
    assert KEY not in message
    assert retries_logged(caplog) == remote.DEFAULT_RETRIES  # one request's retries, no more


def test_a_judge_whose_server_never_came_up_stops_before_judging_anything(endpoint, caplog):
    caplog.set_level(logging.WARNING, logger="llmbench")
    url = endpoint(dead_url())
    records = [{"qid": q, "question": "Q?", "answer": "A.", "reference": "R."} for q in "abc"]
    with pytest.raises(EndpointGone) as caught:
        judge_records(records, "openai:fake-model", judge=make_judge("openai:fake-model"))
    message = str(caught.value)
    assert f"openai:fake-model at {url}/ cannot be reached: the first 3 connections failed" \
        in message and "Connection refused" in message
    assert retries_logged(caplog) == UNREACHABLE_STOPS_AFTER - 1


def test_a_connection_that_drops_now_and_then_keeps_its_retries(endpoint):
    with FakeOpenAI(drop_first=2) as server:
        endpoint(server.url)
        answers = build_generator("openai:fake-model").generate([QUESTION] * 2,
                                                                max_new_tokens=8)
    assert [a.text for a in answers] == ["What colour are visitor lanyards?"] * 2
    assert server.dropped == 2 and server.answered == 2


DYING_BENCH = '''
from llmbench.profiles import RagSettings
from llmbench.regression.results import Result, quality
from llmbench.suites.rag.pipeline import run_rag_benchmark

SETTINGS = RagSettings(corpus="{corpus}", qa="{qa}", k=1, latency_requests=1)


def test_generated_by_a_server_that_dies(regression):
    regression.measure(lambda seed: run_rag_benchmark(SETTINGS, "openai:fake-model", "none"),
                       seed=0)


def test_unaffected(regression):
    regression.check(Result("rag", {{"case": "fine"}}, {{"bleu": quality(0.5)}}))
'''


def test_a_benchmark_whose_server_dies_ends_in_error_naming_it(pytester, endpoint, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lanyards.md").write_text("Visitors wear red lanyards.\n")
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({"id": q, "question": f"Question {q}?", "reference": "R.",
                                      "doc_ids": ["lanyards"]}) + "\n" for q in "abc"))
    with FakeOpenAI(die_after=1) as server:
        url = endpoint(server.url)
        pytester.makepyfile(test_bench=DYING_BENCH.format(corpus=corpus, qa=qa))
        run = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider",
                                 "--update-baselines", "--baseline-dir", "baselines",
                                 "--bench-report", "report")
    run.assert_outcomes(passed=1, failed=1)
    results = json.loads(Path(pytester.path, "report", "results.json").read_text())
    by_id = {r["benchmark_id"]: r for r in results["benchmarks"]}
    dead = by_id["bench/generated_by_a_server_that_dies/default"]
    assert dead["outcome"] == "error"
    assert f"openai:fake-model at {url}/ stopped answering" in dead["message"]
    assert by_id["bench/unaffected/default"]["outcome"] == "updated"
    assert "Traceback" not in run.stdout.str()
    assert "error" in Path(pytester.path, "report", "summary.md").read_text()
