"""The plugin's noise-aware options with pytester: repeats, seeds, determinism, calibration,
confirmation and provenance. The fake benchmark reads its values from a JSON file per call, so a
test can script what each repeat measures."""

import json

import pytest
import torch  # noqa: F401  (must be imported before pytester's sys.modules snapshot)

BENCH = """
import json, pathlib
from llmbench.regression.results import Determinism, Result, cost, quality

SCRIPT = pathlib.Path(__file__).parent / "script.json"
CALLS = pathlib.Path(__file__).parent / "calls.jsonl"

def measure(seed):
    script = json.loads(SCRIPT.read_text())
    calls = CALLS.read_text().splitlines() if CALLS.exists() else []
    step = script["runs"][min(len(calls), len(script["runs"]) - 1)]
    with CALLS.open("a") as fh:
        fh.write(json.dumps({"seed": seed}) + "\\n")
    return Result("lora", {"rank": 8, "seed": 7}, {
        "params": quality(step.get("params", 100), "params", "exact"),
        "loss": quality(step.get("loss", 1.0), "nats", rel_tol=0.05,
                        determinism=Determinism.SEEDED),
        "runtime_s": cost(step["runtime"], "s", rel_tol=0.02),
    })

def test_fake(regression):
    regression.measure(measure, seed=7)
"""


@pytest.fixture
def bench(pytester, monkeypatch):
    monkeypatch.setenv("LLMBENCH_AUTHOR", "ci-bot")
    pytester.makepyfile(test_bench=BENCH)
    return pytester


def script(pytester, *runs):
    (pytester.path / "script.json").write_text(json.dumps({"runs": list(runs)}))
    calls = pytester.path / "calls.jsonl"
    if calls.exists():
        calls.unlink()


def seeds_called(pytester):
    lines = (pytester.path / "calls.jsonl").read_text().splitlines()
    return [json.loads(line)["seed"] for line in lines]


def run(pytester, *args):
    return pytester.runpytest("--bench-profile", "smoke", "-p", "no:randomly", *args)


def baseline(pytester):
    return json.loads((pytester.path / "baselines/smoke/bench/fake/default.json").read_text())


def results(pytester):
    return json.loads((pytester.path / ".llmbench/results.json").read_text())["benchmarks"][0]


NOISY = [{"runtime": t} for t in (10.0, 10.4, 9.8, 10.1, 10.2)]


def test_auto_repeats_give_a_cheap_benchmark_three_samples(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    assert seeds_called(bench) == [7] * 3
    metric = next(iter(baseline(bench)["cost"].values()))["metrics"]["runtime_s"]
    assert metric["samples"] == [10.0, 10.4, 9.8]


def test_repeats_keep_every_sample_in_result_and_baseline(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines", "--bench-repeats", "5").assert_outcomes(passed=1)
    assert seeds_called(bench) == [7] * 5
    entry = baseline(bench)["cost"]
    metric = next(iter(entry.values()))["metrics"]["runtime_s"]
    assert metric["samples"] == [10.0, 10.4, 9.8, 10.1, 10.2]
    assert metric["value"] == 10.1  # the median
    assert next(iter(entry.values()))["repeats"] == {"count": 5, "seeds": [7] * 5,
                                                    "seed_policy": "same"}
    assert results(bench)["result"]["metrics"]["runtime_s"]["samples"][1] == 10.4


def test_fresh_seeds_give_each_repeat_its_own_seed(bench):
    script(bench, {"runtime": 1.0, "loss": 1.0}, {"runtime": 1.0, "loss": 1.1},
           {"runtime": 1.0, "loss": 0.9})
    run(bench, "--update-baselines", "--bench-repeats", "3", "--bench-seeds", "fresh"
        ).assert_outcomes(passed=1)
    assert seeds_called(bench) == [7, 8, 9]
    # a SEEDED metric may vary across fresh seeds: its median is the value
    assert baseline(bench)["quality"]["cpu"]["metrics"]["loss"]["value"] == 1.0


def test_determinism_check_refuses_to_write_and_keeps_the_old_file(bench):
    script(bench, {"runtime": 1.0})
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    before = (bench.path / "baselines/smoke/bench/fake/default.json").read_text()
    script(bench, {"runtime": 1.0, "loss": 1.0}, {"runtime": 1.0, "loss": 1.001})
    result = run(bench, "--update-baselines", "--bench-repeats", "2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*default.json: refusing to write it*",
                                 "*loss: should reproduce*[[]1.0, 1.001[]]*",
                                 "*Nothing was written*"])
    assert (bench.path / "baselines/smoke/bench/fake/default.json").read_text() == before


def test_nondeterministic_metric_fails_a_compare_run(bench):
    script(bench, {"runtime": 1.0})
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    script(bench, {"runtime": 1.0, "params": 100}, {"runtime": 1.0, "params": 101})
    result = run(bench, "--bench-repeats", "2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*params*nondeterministic*"])


def test_calibrate_writes_the_noise_with_the_spread_it_came_from(bench):
    script(bench, *NOISY)
    run(bench, "--calibrate", "--baseline-reason", "first calibration").assert_outcomes(passed=1)
    assert len(seeds_called(bench)) == 5  # --calibrate defaults to 5 repeats
    cost_entry = next(iter(baseline(bench)["cost"].values()))
    noise = cost_entry["metrics"]["runtime_s"]["noise"]
    assert noise["spread"]["n"] == 5 and noise["sessions"] == 1
    assert noise["within_cv"] == pytest.approx(noise["spread"]["cv"])
    assert cost_entry["provenance"]["calibrated"] is True
    # a metric with no spread gets no noise: it is compared near-exactly
    assert "noise" not in baseline(bench)["quality"]["cpu"]["metrics"]["params"]
    # a second session adds the drift between the sessions' medians
    script(bench, *[{"runtime": t * 1.3} for t in (10.0, 10.4, 9.8, 10.1, 10.2)])
    run(bench, "--calibrate").assert_outcomes(passed=1)
    noise = next(iter(baseline(bench)["cost"].values()))["metrics"]["runtime_s"]["noise"]
    assert noise["sessions"] == 2 and noise["between_cv"] > 0.1


def test_calibrate_needs_at_least_three_repeats(bench):
    result = run(bench, "--calibrate", "--bench-repeats", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--calibrate needs --bench-repeats >= 3*"])


def test_a_shift_beyond_tolerance_but_within_noise_passes(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines", "--bench-repeats", "5").assert_outcomes(passed=1)
    # +2.5% median (declared tolerance 2%) but the samples scatter widely around it
    script(bench, *[{"runtime": t} for t in (9.5, 10.9, 10.35, 9.8, 11.0)])
    result = run(bench, "--bench-repeats", "5")
    result.assert_outcomes(passed=1)
    row = results(bench)["comparison"]["runtime_s"]
    assert row["verdict"] == "within noise" and row["test"].startswith("z=")


def test_a_suggestive_but_not_significant_slowdown_is_unconfirmed_and_passes(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines", "--bench-repeats", "5").assert_outcomes(passed=1)
    script(bench, *[{"runtime": t} for t in (10.5, 9.9, 10.4, 10.0, 10.6)])  # +3 %, p ~ 0.07
    result = run(bench, "--bench-repeats", "5")
    result.assert_outcomes(passed=1)
    record = results(bench)
    assert record["outcome"] == "unconfirmed"
    assert record["comparison"]["runtime_s"]["verdict"] == "unconfirmed"
    result.stdout.fnmatch_lines(["*bench/fake/default*? unconfirmed*runtime_s ? +*"])


def test_a_significant_shift_fails_with_the_test_in_the_table(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines", "--bench-repeats", "5").assert_outcomes(passed=1)
    script(bench, *[{"runtime": t * 1.2} for t in (10.0, 10.4, 9.8, 10.1, 10.2)])
    result = run(bench, "--bench-repeats", "5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*runtime_s*5/5*z=*p=*regressed*"])


def test_one_sample_of_a_metric_without_declared_noise_is_judged_by_its_tolerance(bench):
    script(bench, {"runtime": 10.0})
    run(bench, "--update-baselines", "--bench-repeats", "1").assert_outcomes(passed=1)
    script(bench, {"runtime": 10.5})
    result = run(bench, "--bench-repeats", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*runtime_s*1/1*p=0*regressed*"])


def test_confirm_reruns_a_regression_that_then_clears(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines", "--bench-repeats", "5").assert_outcomes(passed=1)
    # one slow outlier run, then normal ones
    script(bench, {"runtime": 13.0}, {"runtime": 10.1}, {"runtime": 10.0}, {"runtime": 10.2},
           {"runtime": 9.9}, {"runtime": 10.1})
    run(bench, "--bench-repeats", "1").assert_outcomes(failed=1)
    script(bench, {"runtime": 13.0}, {"runtime": 10.1}, {"runtime": 10.0}, {"runtime": 10.2},
           {"runtime": 9.9}, {"runtime": 10.1})
    result = run(bench, "--bench-confirm", "1", "--bench-repeats", "1")
    result.assert_outcomes(passed=1)
    record = results(bench)
    assert record["comparison"]["runtime_s"]["n_current"] == 2  # judged together
    assert any("confirmation 1 of 1" in note for note in record["result"]["notes"])


def test_confirm_keeps_a_real_regression(bench):
    script(bench, *NOISY)
    run(bench, "--update-baselines", "--bench-repeats", "5").assert_outcomes(passed=1)
    script(bench, {"runtime": 13.0})
    result = run(bench, "--bench-confirm", "2", "--bench-repeats", "3")
    result.assert_outcomes(failed=1)
    assert len(seeds_called(bench)) == 9  # 3 repeats, then 2 more measurements of 3
    record = results(bench)
    assert record["comparison"]["runtime_s"]["n_current"] == 9
    assert any("confirmation 2 of 2" in note and "regressed" in note
               for note in record["result"]["notes"])


def test_provenance_records_who_why_and_the_previous_values(bench):
    script(bench, {"runtime": 10.0, "loss": 1.0})
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    script(bench, {"runtime": 10.0, "loss": 1.2})
    run(bench, "--update-baselines", "--baseline-reason", "longer warmup (#12)"
        ).assert_outcomes(passed=1)
    entry = baseline(bench)["quality"]["cpu"]
    assert entry["provenance"]["reason"] == "longer warmup (#12)"
    assert entry["provenance"]["author"] == "ci-bot"
    assert {"git_commit", "git_dirty", "date"} <= set(entry["provenance"])
    assert entry["previous"]["values"]["loss"] == 1.0


def test_cost_baseline_of_other_hardware_is_not_used_and_the_run_says_so(bench):
    script(bench, {"runtime": 10.0})
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    path = bench.path / "baselines/smoke/bench/fake/default.json"
    data = json.loads(path.read_text())
    data["cost"] = {"cpu/Other CPU x64": next(iter(data["cost"].values()))}
    path.write_text(json.dumps(data))
    script(bench, {"runtime": 99.0})
    run(bench).assert_outcomes(passed=1)
    record = results(bench)
    assert record["comparison"]["runtime_s"]["verdict"] == "not compared"
    assert "cpu/Other CPU x64" in record["reason"]
    # --update-baselines adds this hardware's entry and keeps the other one
    run(bench, "--update-baselines").assert_outcomes(passed=1)
    assert len(baseline(bench)["cost"]) == 2
