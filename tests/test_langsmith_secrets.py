"""API keys never reach results, baselines, reports, logs or LangSmith payloads.

A real pytest run (pytester) judges answers, uploads them to a fake LangSmith on 127.0.0.1,
writes a baseline and the report, and hits an endpoint that echoes the OpenAI key in its error;
then every file it wrote and everything it printed is searched for both fake keys.
"""

from __future__ import annotations

from pathlib import Path

from fakes.langsmith_server import FakeLangSmith

LANGSMITH_KEY = "lsv2_pt_fakesecret0123456789abcdef"
OPENAI_KEY = "sk-fakesecret-0123456789abcdef"

INNER = '''
import httpx
import openai
import pytest
from fakes.judge_clients import keyword_judge

from llmbench.judges import JudgeError, judge_records, make_judge
from llmbench.suites.rag.langsmith_experiments import record_configuration
from llmbench.regression.results import Result

RECORDS = [{"question": "Who founded Nordwick?", "answer": "Ilse Varnum.",
            "reference": "Ilse Varnum and Tobias Eke.", "contexts": ["..."], "latency_s": 0.2},
           {"question": "How long is the tank?", "answer": "Long.",
            "reference": "90 metres.", "contexts": [], "latency_s": 0.3}]


def test_judged_and_uploaded(regression):
    judge = make_judge("openai:gpt-test", client=keyword_judge({"Ilse": 0.9}))
    outcome = judge_records(RECORDS, "openai:gpt-test", 2, judge=judge)
    result = Result("rag", {"generator": "g", "retriever": "dense", **outcome.params},
                    dict(outcome.metrics), {"questions": RECORDS, "judge": outcome.artifacts,
                    "config": {"generator": "g", "retriever": "dense", "k": 3}},
                    list(outcome.notes))
    summary = record_configuration(result)
    assert summary["runs"] == 2 and "error" not in summary
    print("notes:", result.notes)
    regression.check(result)


def test_endpoint_echoing_the_key():
    def handler(request):
        key = request.headers["authorization"].split()[-1]
        return httpx.Response(401, json={"error": {"message": f"bad key {key}"}})

    client = openai.OpenAI(base_url="http://judge.test/v1", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    judge = make_judge("openai:gpt-test", client=client)
    with pytest.raises(JudgeError) as info:
        judge.judge("correctness", "Q", "A", "R")
    print("judge error:", info.value)
    raise info.value
'''


def test_no_secret_in_results_baselines_reports_logs_or_uploads(pytester, monkeypatch):
    with FakeLangSmith() as fake:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", fake.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", LANGSMITH_KEY)
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.delenv("LANGSMITH_TRACING", raising=False)
        pytester.makepyfile(test_secret_bench=INNER)
        run = pytester.runpytest("-s", "-p", "no:randomly", "-p", "no:cacheprovider",
                                 "--update-baselines", "--baseline-dir", "baselines",
                                 "--bench-report", "report", "-o", "log_cli=true",
                                 "-o", "log_cli_level=DEBUG")

    run.assert_outcomes(passed=1, failed=1)
    output = run.stdout.str() + run.stderr.str()
    assert "judge error:" in output and "bad key ***" in output  # the echo happened, redacted
    written = [p for p in Path(pytester.path).rglob("*")
               if p.is_file() and p.parent.name != "__pycache__" and p.suffix != ".py"]
    assert any("baselines" in p.parts for p in written)
    assert any(p.name == "results.json" for p in written)
    texts = [output] + [p.read_text(errors="replace") for p in written]
    texts += [body.decode(errors="replace") for body in fake.raw_bodies]
    assert fake.feedback and fake.runs
    for secret in (LANGSMITH_KEY, OPENAI_KEY):
        assert not any(secret in text for text in texts), f"{secret} leaked"
