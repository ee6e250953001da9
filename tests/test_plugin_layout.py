"""The tool owns its CPU layout: torch threads from the profile or --bench-threads (never from an
environment variable the user must remember), recorded in results.json and summary.md beside
the speed probe, and part of what makes CPU timings comparable."""

from __future__ import annotations

import json

import pytest
import torch

BENCH = """
from llmbench.regression.results import Result, cost, quality

def test_fake(regression):
    regression.measure(lambda seed: Result("lora", {"case": 1}, {
        "loss": quality(1.0, "nats", kind="loss"),
        "runtime_s": cost(1.0, "s", kind="time")}), seed=0)
"""


@pytest.fixture
def bench(pytester, monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    pytester.makepyfile(test_bench=BENCH)
    yield pytester
    torch.set_num_threads(threads)  # the in-process runs set this process's threads


def run(pytester, *args):
    return pytester.runpytest("--bench-profile", "smoke", "--bench-repeats", "1", *args)


def results(pytester):
    return json.loads((pytester.path / ".llmbench" / "results.json").read_text())


@pytest.mark.parametrize(("args", "env", "threads"), [
    ((), None, 1),  # the profile's cpu_threads
    (("--bench-threads", "2"), None, 2),  # the option overrides it
    (("--bench-threads", "2"), "3", 2),
    ((), "3", None),  # OMP_NUM_THREADS, when set, is honoured (torch read it at import)
])
def test_the_run_sets_and_records_its_torch_threads(bench, monkeypatch, args, env, threads):
    if env:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
        torch.set_num_threads(int(env))  # what torch does with it at import
    run(bench, "--update-baselines", *args).assert_outcomes(passed=1)
    expected = threads or int(env)
    data = results(bench)
    (record,) = data["benchmarks"]
    assert record["environment"]["torch_threads"] == expected
    assert record["environment"]["workers"] == 1
    assert data["layout"]["torch_threads"] == [expected] and data["layout"]["workers"] == 1
    summary = (bench.path / ".llmbench" / "summary.md").read_text()
    assert f"Layout: 1 worker(s) x {expected} torch thread(s) on " in summary
    assert "speed probe 5.00–5.00 ms" in summary  # tests/conftest.py's steady probe


def test_timings_from_another_thread_count_are_not_compared(bench):
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    result = run(bench, "--bench-threads", "2")
    result.assert_outcomes(passed=1)
    (record,) = results(bench)["benchmarks"]
    assert record["comparison"]["runtime_s"]["verdict"] == "not compared"
    assert "run with --bench-threads 1" in record["reason"]
    assert record["comparison"]["loss"]["verdict"] == "pass"


def test_a_bad_thread_count_is_a_usage_error(bench):
    result = run(bench, "--bench-threads", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bench-threads must be >= 1, got 0*"])
