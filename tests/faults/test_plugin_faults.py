"""Plugin-level faults and verdict honesty, end to end with pytester: the accept command
reproduces the run, an unwritable baseline loses no results, NaN never becomes a baseline,
a process that waits is judged (a busy machine is tests/faults/test_slowdown_matrix.py),
nothing compared is not "pass"."""

from __future__ import annotations

import json
import shlex

import pytest
import torch  # noqa: F401  (imported before pytester's sys.modules snapshot)

BENCH = """
import os, time
import pytest
from llmbench.regression.results import Result, cost, quality

@pytest.mark.parametrize("case", ["alpha", "beta"])
def test_fake(case, bench_profile, regression, request):
    loss = float(os.environ.get("FAKE_LOSS", "1.0"))
    params = {"case": case, "steps": bench_profile.lora.steps,
              "judge": request.config.getoption("judge")}

    def run(seed):  # a fresh Result per repeat, as the real suites return
        metrics = {"loss": quality(loss, "nats", kind="loss"),
                   "runtime_s": cost(float(os.environ.get("FAKE_RUNTIME", "1.0")), "s",
                                     kind="time")}
        result = Result("lora", params, metrics)
        if os.environ.get("FAKE_NO_METEOR"):
            result.unavailable["meteor"] = "WordNet is not installed here"
        else:
            result.metrics["meteor"] = quality(0.3, kind="text_score")
        if os.environ.get("FAKE_SLEEP"):
            time.sleep(float(os.environ["FAKE_SLEEP"]))  # wall time without CPU time: starved
        return result

    regression.measure(run, seed=0)

def test_timing_only(regression):
    regression.check(Result("rag", {"retriever": "bm25"},
                            {"retrieval_p50_s": cost(0.1, "s", kind="time")}))
"""


@pytest.fixture
def bench(pytester, monkeypatch):
    for var in ("FAKE_LOSS", "FAKE_RUNTIME", "FAKE_NO_METEOR", "FAKE_SLEEP",
                "LLMBENCH_HARDWARE_KEY"):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(test_bench=BENCH)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("--bench-profile", "smoke", "--bench-repeats", "1", *args)


def records(pytester, report=".llmbench"):
    data = json.loads((pytester.path / report / "results.json").read_text())
    return {r["benchmark_id"]: r for r in data["benchmarks"]}


def accept_commands(output: str) -> list[str]:
    lines = output.splitlines()
    # pytest's short summary may repeat the failure message (it depends on the terminal width)
    commands = [lines[i + 1].strip() for i, line in enumerate(lines)
                if line.rstrip().endswith("with:") and i + 1 < len(lines)]
    return list(dict.fromkeys(commands))


def test_the_printed_accept_command_reproduces_a_non_default_run(bench):
    original = ("--bench-steps", "7", "--judge", "none", "--hardware-key", "team runner 1",
                "--baseline-dir", "my baselines", "-k", "alpha")
    first = run(bench, *original)
    first.assert_outcomes(failed=1, deselected=2)
    [command] = accept_commands(first.stdout.str())
    args = shlex.split(command)
    assert args[0] == "pytest" and "--update-baselines" in args
    for option in ("--bench-steps", "--judge", "--hardware-key", "--baseline-dir",
                   "--bench-profile", "--bench-repeats"):
        assert option in args, (option, command)
    assert "team runner 1" in args and "my baselines" in args  # shell-quoted
    run(bench, *args[1:]).assert_outcomes(passed=1)
    run(bench, *original).assert_outcomes(passed=1, deselected=2)
    data = json.loads((bench.path / "my baselines/smoke/bench/fake/alpha.json").read_text())
    assert list(data["cost"]) == ["team runner 1"]


def test_hardware_key_from_the_environment(bench, monkeypatch):
    monkeypatch.setenv("LLMBENCH_HARDWARE_KEY", "ci-gpu-pool")
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    data = json.loads((bench.path / "baselines/smoke/bench/fake/alpha.json").read_text())
    assert list(data["cost"]) == ["ci-gpu-pool"]


def test_an_unwritable_baseline_fails_that_benchmark_and_loses_no_results(bench, monkeypatch):
    run(bench, "--update-baselines").assert_outcomes(passed=3)
    target = bench.path / "baselines/smoke/bench/fake/alpha.json"
    before = target.read_bytes()

    from llmbench.regression import baselines as baselines_module

    real = baselines_module.atomic_write_text

    def read_only(path, text):
        if path.name == "alpha.json":
            raise OSError(30, "Read-only file system", str(path))
        return real(path, text)

    monkeypatch.setattr(baselines_module, "atomic_write_text", read_only)
    monkeypatch.setenv("FAKE_LOSS", "2.0")
    result = run(bench, "--update-baselines")
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines(["*alpha.json: cannot be written: Read-only file system*"])
    found = records(bench)
    assert found["bench/fake/alpha"]["outcome"] == "error"
    assert found["bench/fake/alpha"]["result"]["metrics"]["loss"]["value"] == 2.0  # kept
    assert found["bench/fake/beta"]["outcome"] == "updated"
    assert (bench.path / ".llmbench" / "summary.md").exists()
    assert target.read_bytes() == before


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_under_update_fails_naming_the_metric_and_keeps_the_file(bench, monkeypatch,
                                                                             bad):
    run(bench, "--update-baselines").assert_outcomes(passed=3)
    target = bench.path / "baselines/smoke/bench/fake/alpha.json"
    before = target.read_bytes()
    monkeypatch.setenv("FAKE_LOSS", bad)
    result = run(bench, "--update-baselines", "-k", "alpha")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines([f"*loss: value is {bad} (not a finite number)*",
                                 "*Nothing was written*"])
    assert target.read_bytes() == before
    assert records(bench)["bench/fake/alpha"]["outcome"] == "failed"


def test_a_run_that_waits_on_an_idle_machine_is_judged_not_busy(bench, monkeypatch):
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    monkeypatch.setenv("FAKE_RUNTIME", "9.0")  # 9x slower...
    monkeypatch.setenv("FAKE_SLEEP", "0.6")  # ...while the process waited by itself
    result = run(bench, "-k", "alpha")
    result.assert_outcomes(failed=1, deselected=2)
    record = records(bench)["bench/fake/alpha"]
    assert record["outcome"] == "regressed"
    assert record["comparison"]["runtime_s"]["verdict"] == "regressed"
    assert "busy" not in record["result"]
    machine = record["result"]["machine"]
    assert machine["cpu_share"] < 0.5 and machine["runqueue_s"] < 0.1
    assert any("off the CPU by itself" in note and "its timings are judged" in note
               for note in record["result"]["notes"])


def test_nothing_compared_is_shown_as_such_not_as_pass(bench):
    run(bench, "--update-baselines").assert_outcomes(passed=3)
    result = run(bench, "--no-cost-compare", "-k", "timing")
    result.assert_outcomes(passed=1, deselected=2)
    record = records(bench)["bench/timing_only/default"]
    assert record["outcome"] == "not compared"
    assert "--no-cost-compare" in record["reason"]


def test_a_metric_unavailable_here_is_unavailable_not_regressed(bench, monkeypatch):
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    monkeypatch.setenv("FAKE_NO_METEOR", "1")
    result = run(bench, "-k", "fake")
    result.assert_outcomes(passed=2, deselected=1)
    row = records(bench)["bench/fake/alpha"]["comparison"]["meteor"]
    assert row["verdict"] == "unavailable" and "WordNet" in row["reason"]
    summary = (bench.path / ".llmbench" / "summary.md").read_text()
    assert "unavailable" in summary


def test_summary_md_and_results_json_use_one_symbol_per_kind(bench, monkeypatch):
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    monkeypatch.setenv("FAKE_LOSS", "1.5")
    run(bench, "-k", "fake").assert_outcomes(failed=2, deselected=1)
    data = json.loads((bench.path / ".llmbench" / "results.json").read_text())
    kinds = data["outcome_kinds"]["benchmark"]
    symbols = [k["symbol"] for k in kinds.values()]
    assert len(set(symbols)) == len(symbols)
    summary = (bench.path / ".llmbench" / "summary.md").read_text()
    assert kinds["regressed"]["emoji"] in summary and "regressed" in summary


def _probe_reads(monkeypatch, *values):
    """The machine-speed probe returns these values in turn (the last one from then on)."""
    from llmbench.pytest_plugin import check

    reads = list(values)
    monkeypatch.setattr(check, "probe_ms", lambda: reads.pop(0) if len(reads) > 1 else reads[0])


def test_a_machine_slower_than_the_baselines_is_busy_not_regressed(bench, monkeypatch):
    _probe_reads(monkeypatch, 5.0)
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    stored = json.loads((bench.path / "baselines/smoke/bench/fake/alpha.json").read_text())
    (cost_entry,) = stored["cost"].values()
    assert cost_entry["speed_probe"] == {"ms": 5.0, "version": 2}
    monkeypatch.setenv("FAKE_RUNTIME", "2.6")  # the whole VM runs 2.6x slower, CPU share intact
    _probe_reads(monkeypatch, 13.0)
    result = run(bench, "-k", "alpha")
    result.assert_outcomes(passed=1, deselected=2)
    record = records(bench)["bench/fake/alpha"]
    assert record["outcome"] == "busy"
    assert record["comparison"]["runtime_s"]["verdict"] == "busy"
    assert record["comparison"]["loss"]["verdict"] == "pass"  # quality is still judged
    assert "machine 2.60x slower" in record["reason"]
    assert record["result"]["machine"]["speed_probe_ms"] == 13.0


def test_a_slower_build_on_a_machine_at_the_baselines_speed_still_regresses(bench, monkeypatch):
    _probe_reads(monkeypatch, 5.0)
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    monkeypatch.setenv("FAKE_RUNTIME", "2.6")
    _probe_reads(monkeypatch, 5.5)  # probe noise, well inside the band
    result = run(bench, "-k", "alpha")
    result.assert_outcomes(failed=1, deselected=2)
    assert records(bench)["bench/fake/alpha"]["comparison"]["runtime_s"]["verdict"] == \
        "regressed"


def test_bench_confirm_measures_a_busy_benchmark_again(bench, monkeypatch):
    _probe_reads(monkeypatch, 5.0)
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    monkeypatch.setenv("FAKE_RUNTIME", "2.6")  # a slower build...
    _probe_reads(monkeypatch, 13.0, 13.0, 5.0)  # ...first measured while the machine was slow
    run(bench, "-k", "alpha").assert_outcomes(passed=1, deselected=2)
    assert records(bench)["bench/fake/alpha"]["outcome"] == "busy"  # not judged: no confirm
    _probe_reads(monkeypatch, 13.0, 13.0, 5.0)
    run(bench, "--bench-confirm", "1", "-k", "alpha").assert_outcomes(failed=1, deselected=2)
    record = records(bench)["bench/fake/alpha"]
    assert record["outcome"] == "regressed"  # the calm re-measurement is judged
    assert any("busy after 1 measurement" in note for note in record["result"]["notes"])


def test_without_a_stored_probe_a_slowdown_within_the_session_is_busy(bench, monkeypatch):
    run(bench, "--update-baselines", "-k", "fake").assert_outcomes(passed=2, deselected=1)
    for path in (bench.path / "baselines/smoke/bench/fake").glob("*.json"):
        data = json.loads(path.read_text())  # as written before probes existed
        for entry in data["cost"].values():
            del entry["speed_probe"]
        path.write_text(json.dumps(data))
    monkeypatch.setenv("FAKE_RUNTIME", "2.6")
    _probe_reads(monkeypatch, 5.0, 5.0, 13.0)  # alpha at full speed, then the machine slows
    result = run(bench, "-k", "fake")
    result.assert_outcomes(failed=1, passed=1, deselected=1)
    found = records(bench)
    assert found["bench/fake/alpha"]["outcome"] == "regressed"
    assert found["bench/fake/beta"]["outcome"] == "busy"
    assert "at this session's fastest" in found["bench/fake/beta"]["reason"]


def test_a_benchmark_that_times_itself_is_probed_too(bench, monkeypatch):
    _probe_reads(monkeypatch, 5.0)
    run(bench, "--update-baselines", "-k", "timing").assert_outcomes(passed=1, deselected=2)
    _probe_reads(monkeypatch, 13.0)
    run(bench, "-k", "timing").assert_outcomes(passed=1, deselected=2)
    record = records(bench)["bench/timing_only/default"]
    assert record["outcome"] == "busy" and "2.60x slower" in record["reason"]


def test_without_cost_compare_a_slower_machine_is_not_compared_not_busy(bench, monkeypatch):
    _probe_reads(monkeypatch, 5.0)
    run(bench, "--update-baselines", "-k", "timing").assert_outcomes(passed=1, deselected=2)
    _probe_reads(monkeypatch, 13.0)
    run(bench, "--no-cost-compare", "-k", "timing").assert_outcomes(passed=1, deselected=2)
    assert records(bench)["bench/timing_only/default"]["outcome"] == "not compared"
