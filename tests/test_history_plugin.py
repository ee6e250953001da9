"""The plugin appends every run to the history; opting out and a broken store never cost the
run its results.json."""

import json

import pytest

# torch must be imported before pytester's in-process runs snapshot sys.modules.
import torch  # noqa: F401
from history_support import postgres_db, postgres_url  # noqa: F401

from llmbench.history import HistoryStore

BENCH = """
import os
import pytest
from llmbench.regression.results import Result, cost, quality

@pytest.mark.parametrize("rank", [8, 16], ids=lambda r: f"r{r}")
def test_fake(rank, regression):
    runtime = float(os.environ.get("FAKE_RUNTIME", "5.0"))
    regression.check(Result("lora", {"rank": rank},
                            {"loss": quality(1.0, "nats", rel_tol=0.05),
                             "runtime_s": cost(runtime, "s", rel_tol=0.5)}))
"""


@pytest.fixture
def bench(pytester, monkeypatch):
    monkeypatch.delenv("LLMBENCH_HISTORY", raising=False)
    pytester.makepyfile(test_bench=BENCH)
    return pytester


def test_every_run_is_appended_next_to_the_report(bench):
    result = bench.runpytest("--bench-profile", "smoke", "--update-baselines")
    result.assert_outcomes(passed=2)
    history = bench.path / ".llmbench" / "history.sqlite"
    result.stdout.fnmatch_lines(["history: *history.sqlite (+4 metric rows, run *)"])
    bench.runpytest("--bench-profile", "smoke").assert_outcomes(passed=2)
    with HistoryStore(str(history)) as store:
        runs = store.runs()
        rows = list(store.measurement_rows(metric="runtime_s"))
    assert len(runs) == 2
    assert [r["outcome"] for r in rows if r["benchmark_id"] == "bench/fake/r8"] == [
        "updated", "pass"]
    assert rows[-1]["verdict"] is not None and rows[-1]["baseline"] == 5.0


def test_option_and_env_choose_the_store(bench, monkeypatch, tmp_path):
    bench.runpytest("--bench-profile", "smoke", "--update-baselines",
                    "--bench-history", str(tmp_path / "a.sqlite"))
    monkeypatch.setenv("LLMBENCH_HISTORY", str(tmp_path / "b.sqlite"))
    bench.runpytest("--bench-profile", "smoke")
    for name in ("a", "b"):
        with HistoryStore(str(tmp_path / f"{name}.sqlite")) as store:
            assert len(store.runs()) == 1


def test_no_bench_history_appends_nothing(bench):
    result = bench.runpytest("--bench-profile", "smoke", "--update-baselines",
                             "--no-bench-history")
    result.assert_outcomes(passed=2)
    assert not (bench.path / ".llmbench" / "history.sqlite").exists()
    assert (bench.path / ".llmbench" / "results.json").exists()


def test_a_broken_store_is_a_warning_and_results_json_survives(bench):
    result = bench.runpytest("--bench-profile", "smoke", "--update-baselines",
                             "--bench-history", "mysql://u:secret@127.0.0.1/h")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(["*HistoryWarning*run not appended to the result history*"
                                 "unsupported database 'mysql'*"])
    assert "secret" not in result.stdout.str()
    data = json.loads((bench.path / ".llmbench" / "results.json").read_text())
    assert len(data["benchmarks"]) == 2


def test_under_xdist_the_run_is_appended_once_with_every_worker_s_benchmarks(bench):
    result = bench.runpytest("--bench-profile", "smoke", "--update-baselines", "-n", "2")
    result.assert_outcomes(passed=2)
    with HistoryStore(str(bench.path / ".llmbench" / "history.sqlite")) as store:
        assert len(store.runs()) == 1
        assert sorted({r["benchmark_id"] for r in store.measurement_rows()}) == [
            "bench/fake/r16", "bench/fake/r8"]


def test_a_postgresql_url_works_from_the_command_line(bench, postgres_db):  # noqa: F811
    result = bench.runpytest("--bench-profile", "smoke", "--update-baselines",
                             "--bench-history", postgres_db)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["history: postgresql://llmbench@127.0.0.1:*(+4 metric rows*"])
    with HistoryStore(postgres_db) as store:
        assert store.count() == 4
