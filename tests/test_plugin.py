"""End-to-end tests of the pytest plugin with pytester: a tiny benchmark, real baselines."""

import json

import pytest

# In-process pytester runs snapshot sys.modules; torch must be imported before the snapshot,
# because it cannot be imported a second time in one process.
import torch  # noqa: F401

BENCH = """
import os
import pytest
from llmbench.regression.results import Result, cost, quality

@pytest.mark.lora
@pytest.mark.parametrize("rank", [8, 16], ids=lambda r: f"r{r}")
def test_fake(rank, bench_device, regression):
    loss = float(os.environ.get("FAKE_LOSS", "1.0"))
    steps = int(os.environ.get("FAKE_STEPS", "10"))
    runtime = float(os.environ.get("FAKE_RUNTIME", "5.0"))
    metrics = {"loss": quality(loss, "nats", rel_tol=0.05),
               "runtime_s": cost(runtime, "s", kind="time")}
    if os.environ.get("FAKE_DROP_RUNTIME"):
        del metrics["runtime_s"]
    regression.check(Result("lora", {"rank": rank, "steps": steps}, metrics))
"""


@pytest.fixture
def bench(pytester, monkeypatch):
    for var in ("FAKE_LOSS", "FAKE_STEPS", "FAKE_RUNTIME", "FAKE_DROP_RUNTIME"):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(test_bench=BENCH)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("--bench-profile", "smoke", *args)


def baseline_file(pytester, case="r8"):
    return pytester.path / "baselines" / "smoke" / "bench" / "fake" / f"{case}.json"


def test_options_and_markers_are_registered(pytester):
    result = pytester.runpytest_subprocess("--help")
    for option in ("--update-baselines", "--baseline-dir", "--bench-profile", "--bench-report"):
        result.stdout.fnmatch_lines([f"*{option}*"])
    markers = pytester.runpytest_subprocess("--markers").stdout.str()
    for marker in ("gpu", "lora", "quant", "rag", "judge", "network", "slow"):
        assert f"@pytest.mark.{marker}:" in markers


def test_missing_baseline_fails_and_says_how_to_create(bench):
    result = run(bench)
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines(["*no baseline file*r8.json*", "*--update-baselines*"])


def test_update_writes_files_and_then_passes(bench):
    result = run(bench, "--update-baselines")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*baselines written (2)*", "*fake/r8.json"])
    data = json.loads(baseline_file(bench).read_text())
    assert data["quality"]["cpu"]["metrics"]["loss"]["value"] == 1.0
    assert data["params"] == {"rank": 8, "steps": 10}
    assert data["quality"]["cpu"]["environment"]["packages"]["torch"]
    run(bench).assert_outcomes(passed=2, skipped=2)


def test_update_touches_only_benchmarks_that_ran(bench, monkeypatch):
    run(bench, "--update-baselines")
    r16 = baseline_file(bench, "r16").read_text()
    monkeypatch.setenv("FAKE_LOSS", "3.0")
    run(bench, "--update-baselines", "-k", "r8").assert_outcomes(passed=1, skipped=1,
                                                               deselected=2)
    assert baseline_file(bench, "r16").read_text() == r16
    assert json.loads(baseline_file(bench).read_text())["quality"]["cpu"]["metrics"]["loss"][
        "value"] == 3.0


def test_regression_fails_with_table_of_moved_metrics(bench, monkeypatch):
    run(bench, "--update-baselines")
    monkeypatch.setenv("FAKE_LOSS", "1.5")
    result = run(bench)
    result.assert_outcomes(failed=2, skipped=2)
    out = result.stdout.str()
    assert "metric" in out and "baseline" in out and "allowed" in out
    result.stdout.fnmatch_lines(["*loss [[]nats[]]*1*1.5*+0.5 (+50.0%)*0.05*regressed*",
                                 "*accept it with:*", "*pytest*--update-baselines*"])
    assert "runtime_s" not in out.split("regressed:")[1].split("baseline:")[0]


def test_improvement_passes_and_suggests_update(bench, monkeypatch):
    run(bench, "--update-baselines")
    monkeypatch.setenv("FAKE_LOSS", "0.5")
    result = run(bench, "-rA")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*improved*"])


def test_nan_always_fails(bench, monkeypatch):
    run(bench, "--update-baselines")
    monkeypatch.setenv("FAKE_LOSS", "nan")
    result = run(bench)
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines(["*loss*value is nan*failed*"])


def test_metric_missing_from_result_fails(bench, monkeypatch):
    run(bench, "--update-baselines")
    monkeypatch.setenv("FAKE_DROP_RUNTIME", "1")
    result = run(bench)
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines(["*runtime_s*missing*"])


def test_changed_params_are_not_comparable(bench, monkeypatch):
    run(bench, "--update-baselines")
    monkeypatch.setenv("FAKE_STEPS", "20")
    monkeypatch.setenv("FAKE_LOSS", "9.0")
    result = run(bench)
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines(["*not comparable*steps: 10 -> 20*", "*re-baseline*"])
    assert "regressed" not in result.stdout.str().split("short test summary")[0]


def test_corrupt_baseline_is_an_error_naming_file_and_problem(bench):
    run(bench, "--update-baselines")
    baseline_file(bench).write_text('{"schema_version": 1,')
    result = run(bench)
    result.assert_outcomes(errors=1, passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*BaselineError: baseline file*r8.json: invalid JSON*"])


def test_cost_metrics_from_other_hardware_are_not_compared(bench, monkeypatch):
    run(bench, "--update-baselines")
    for case in ("r8", "r16"):
        path = baseline_file(bench, case)
        data = json.loads(path.read_text())
        data["cost"] = {"cpu/Some Other CPU x64": next(iter(data["cost"].values()))}
        path.write_text(json.dumps(data))
    monkeypatch.setenv("FAKE_RUNTIME", "500")
    result = run(bench)
    result.assert_outcomes(passed=2, skipped=2)
    report = json.loads((bench.path / ".llmbench" / "results.json").read_text())
    r8 = next(b for b in report["benchmarks"] if b["benchmark_id"] == "bench/fake/r8")
    assert r8["comparison"]["runtime_s"]["verdict"] == "not compared"


def test_a_skip_inside_a_benchmark_is_listed_as_unavailable_with_the_reason(pytester):
    pytester.makepyfile(test_skip="""
        import pytest

        def test_skip(regression):
            pytest.skip("bitsandbytes 0.41 is too old for nf4 (needs >= 0.48)")
    """)
    result = pytester.runpytest("--bench-profile", "smoke")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*skip/skip/default*smoke*cpu*unavailable*bitsandbytes 0.41*"])


def test_results_json_written_for_every_run(bench):
    run(bench, "--bench-report", "out")
    report = json.loads((bench.path / "out" / "results.json").read_text())
    assert {b["outcome"] for b in report["benchmarks"]} == {"new"}
    assert report["outcome_kinds"]["benchmark"]["new"]["fails"] is True
    assert report["outcome_kinds"]["metric"]["new"]["fails"] is False
    assert len(report["benchmarks"]) == 2


def test_terminal_summary_lists_every_benchmark(bench):
    run(bench, "--update-baselines")
    result = run(bench)
    result.stdout.fnmatch_lines(["*llmbench summary*", "*bench/fake/r16*smoke*cpu*pass*s*",
                                 "*bench/fake/r8*smoke*cpu*pass*s*", "*2 pass*"])


def test_gpu_benchmarks_skipped_with_reason_without_cuda(bench):
    result = run(bench, "-rs")
    result.stdout.fnmatch_lines(["*SKIPPED*needs CUDA*"])


def test_explicit_gpu_run_without_cuda_is_an_error(bench):
    result = run(bench, "-m", "gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*-m gpu selected 2 GPU benchmark(s) but CUDA is not usable*"])


def test_not_gpu_expression_is_fine_without_cuda(bench):
    result = run(bench, "-m", "not gpu", "--update-baselines")
    result.assert_outcomes(passed=2, deselected=2)


def test_unknown_profile_is_a_usage_error(bench):
    result = bench.runpytest_subprocess("--bench-profile", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown profile 'nope'*valid: smoke, embedded*"])


def test_junit_xml_carries_metrics_as_properties(bench):
    run(bench, "--update-baselines", "--junitxml", "junit.xml")
    xml = (bench.path / "junit.xml").read_text()
    assert '<property name="loss" value="1.0"' in xml


def test_works_under_xdist_including_update(bench):
    # xdist workers are processes of their own: pin the speed probe there too (two workers on
    # two cores make it read the contention, which this test is not about)
    bench.makeconftest("""
        import pytest

        @pytest.fixture(autouse=True)
        def _steady_machine(monkeypatch):
            from llmbench.pytest_plugin import check
            monkeypatch.setattr(check, "probe_ms", lambda: 5.0)
    """)
    result = run(bench, "-n", "2", "--update-baselines")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*baselines written (2)*"])
    assert baseline_file(bench, "r8").exists() and baseline_file(bench, "r16").exists()
    result = run(bench, "-n", "2")
    result.assert_outcomes(passed=2, skipped=2)
    report = json.loads((bench.path / ".llmbench" / "results.json").read_text())
    assert sorted(b["outcome"] for b in report["benchmarks"]) == ["pass", "pass"]


def test_pytest_benchmark_stats_feed_result_metrics(pytester):
    pytester.makepyfile(test_micro="""
        from llmbench.regression.results import Result, latency_metrics

        def test_micro(benchmark, regression):
            benchmark.pedantic(sum, args=(range(1000),), rounds=5, warmup_rounds=1)
            metrics = latency_metrics(benchmark, "sum")
            regression.check(Result("rag", {"n": 1000}, metrics))
    """)
    result = pytester.runpytest("--bench-profile", "smoke", "--update-baselines",
                                "--benchmark-disable-gc")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "baselines/smoke/micro/micro/default.json").read_text())
    cost_entry = next(iter(data["cost"].values()))
    assert set(cost_entry["metrics"]) == {"sum_median_s", "sum_mean_s", "sum_min_s"}
    assert cost_entry["metrics"]["sum_median_s"]["value"] > 0
    # pytest-benchmark's own table still prints
    result.stdout.fnmatch_lines(["*benchmark: 1 tests*"])


def test_benchmark_that_crashes_before_check_is_listed_as_failed(pytester):
    pytester.makepyfile(test_crash="""
        def test_crash(regression):
            raise FloatingPointError("loss is NaN at step 3 (rank=8)")
    """)
    result = pytester.runpytest("--bench-profile", "smoke")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*crash/crash/default*smoke*cpu*failed*"])
    report = json.loads((pytester.path / ".llmbench" / "results.json").read_text())
    assert "loss is NaN at step 3" in report["benchmarks"][0]["message"]


def test_invalid_steps_override_is_a_usage_error(pytester):
    result = pytester.runpytest_subprocess("--bench-steps", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bench-steps must be >= 1*"])


def test_no_cost_compare_records_cost_metrics_without_judging_them(bench, monkeypatch):
    run(bench, "--update-baselines")
    monkeypatch.setenv("FAKE_RUNTIME", "500")
    run(bench).assert_outcomes(failed=2, skipped=2)  # 100x slower: significant on one sample
    result = run(bench, "--no-cost-compare")
    result.assert_outcomes(passed=2, skipped=2)
    report = json.loads((bench.path / ".llmbench" / "results.json").read_text())
    assert {b["comparison"]["runtime_s"]["verdict"] for b in report["benchmarks"]} == {
        "not compared"}
