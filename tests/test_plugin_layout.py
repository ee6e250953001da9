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


# --- workers: a run of the benchmarks directory spreads over the cores (pytest_plugin.layout) ---

def test_auto_fills_the_cores_with_the_threads_of_each_worker():
    from llmbench.pytest_plugin.layout import worker_count

    assert worker_count("auto", threads=1, cores=2) == 2
    assert worker_count("auto", threads=2, cores=2) == 1
    assert worker_count("auto", threads=4, cores=2) == 1  # never 0
    assert worker_count("auto", threads=2, cores=16) == 8
    assert worker_count(3, threads=1, cores=2) == 3  # a number is taken as given


@pytest.mark.parametrize("text", ["0", "-1", "two", ""])
def test_a_bad_worker_count_names_the_option(text):
    from llmbench.pytest_plugin.options import workers_value

    with pytest.raises(pytest.UsageError, match="--bench-workers must be 'auto' or an integer"):
        workers_value(text)


@pytest.mark.parametrize(("args", "cwd", "spread"), [
    (["benchmarks"], "", True),
    (["benchmarks/test_rag.py::test_rag[x-cpu]"], "", True),
    (["benchmarks/test_rag.py", "benchmarks/test_lora_ranks.py"], "", True),
    (["."], "benchmarks", True),  # run from inside the directory
    (["tests"], "", False),
    (["benchmarks", "tests"], "", False),  # a mixed run keeps one process
    (["."], "", False),
    ([], "", False),
])
def test_only_runs_of_the_benchmarks_directory_spread(tmp_path, args, cwd, spread):
    from llmbench.pytest_plugin.layout import only_benchmarks

    assert only_benchmarks(args, tmp_path, tmp_path / cwd) is spread


def _layout_project(pytester):
    pytester.mkdir("benchmarks")
    (pytester.path / "benchmarks" / "test_bench.py").write_text(BENCH)
    pytester.makepyfile(test_unit=BENCH)


def _workers(pytester) -> tuple[int, int]:
    data = results(pytester)
    (record,) = data["benchmarks"]
    return record["environment"]["workers"], data["layout"]["workers"]


def test_a_benchmarks_run_starts_its_workers_and_records_them(bench):
    from llmbench.pytest_plugin.layout import machine_cores, worker_count

    _layout_project(bench)
    expected = worker_count("auto", 1, machine_cores())
    result = bench.runpytest_subprocess("benchmarks", "--bench-profile", "smoke",
                                        "--bench-repeats", "1", "--update-baselines")
    result.assert_outcomes(passed=1)
    assert _workers(bench) == (expected, expected)
    if expected > 1:  # xdist's own header line: the workers really ran the benchmark
        result.stdout.fnmatch_lines([f"*{expected} workers*"])
    summary = (bench.path / ".llmbench" / "summary.md").read_text()
    assert f"Layout: {expected} worker(s) x 1 torch thread(s) on " in summary


def test_other_paths_keep_one_process_and_the_option_spreads_any_path(bench):
    _layout_project(bench)
    bench.runpytest_subprocess("test_unit.py", "--bench-profile", "smoke", "--bench-repeats",
                               "1", "--update-baselines").assert_outcomes(passed=1)
    assert _workers(bench) == (1, 1)
    bench.runpytest_subprocess("test_unit.py", "--bench-profile", "smoke", "--bench-repeats",
                               "1", "--update-baselines", "--bench-workers", "2"
                               ).assert_outcomes(passed=1)
    assert _workers(bench) == (2, 2)
    # -n is the user's layout: honoured as given
    bench.runpytest_subprocess("benchmarks", "-n", "0", "--bench-profile", "smoke",
                               "--bench-repeats", "1", "--update-baselines"
                               ).assert_outcomes(passed=1)
    assert _workers(bench) == (1, 1)


def test_workers_without_xdist_are_a_usage_error_naming_the_way_out(bench):
    _layout_project(bench)
    result = bench.runpytest_subprocess("benchmarks", "-p", "no:xdist", "--bench-workers", "2",
                                        "--bench-profile", "smoke")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-xdist is not installed or was disabled*"
                                 "--bench-workers 1*"])
