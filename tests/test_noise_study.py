"""The noise study's machinery on synthetic pools (the real figures come from real runs)."""

import random

import pytest
from report_records import make_record

from llmbench.cli import main
from llmbench.regression.results import Direction, cost
from llmbench.report import write_report
from llmbench.tools.noise_study import default_rules, detection_rates, study, to_markdown, worsen

rng = random.Random(1)
POOL_A = [10.0 * (1 + rng.gauss(0, 0.03)) for _ in range(20)]  # 3% noise, like a hosted runner
POOL_B = [10.0 * (1 + rng.gauss(0, 0.03)) for _ in range(20)]
RULES = {rule.name: rule for rule in default_rules()}


def rates(rule_prefix, effects=(0.0, 0.2)):
    rule = next(r for name, r in RULES.items() if name.startswith(rule_prefix))
    return detection_rates(cost(10.0, "s", kind="time"), POOL_A, POOL_B, rule, effects,
                           trials=300)


def test_worsen_respects_direction():
    assert worsen(10.0, 0.1, Direction.LOWER) == pytest.approx(11.0)
    assert worsen(10.0, 0.1, Direction.HIGHER) == pytest.approx(10.0 / 1.1)


def test_fixed_five_percent_gate_false_alarms_on_three_percent_noise():
    assert rates("before: fixed 5%")[0.0] > 0.05


def test_confirmation_pools_a_second_measurement():
    single = rates("now: 1 run, baseline")
    confirmed = rates("now: 1 run + --bench-confirm 1")
    assert confirmed[0.0] <= 0.01 and confirmed[0.2] >= single[0.2]


def test_the_plugins_rule_is_quiet_and_still_catches_big_regressions():
    # Uncalibrated, a CPU timing is allowed 25 % of drift between sessions: 2x is big.
    found = rates("now: 5 runs", effects=(0.0, 1.0))
    assert found[0.0] <= 0.01 and found[1.0] >= 0.95


def test_pools_too_small_for_a_rule_are_an_error():
    rule = default_rules(repeats=5)[3]
    with pytest.raises(ValueError, match="needs 5 baseline"):
        detection_rates(cost(1.0), [1.0, 2.0], POOL_B, rule)


def _run_with_samples(directory, samples):
    metric = cost(sorted(samples)[len(samples) // 2], "s", kind="time")
    metric.samples = samples
    return write_report(directory, [make_record("lora_ranks/lora_rank/r8", "lora",
                                                {"runtime_s": metric})])


def test_cli_prints_the_table(tmp_path, capsys):
    a = _run_with_samples(tmp_path / "a", POOL_A)
    b = _run_with_samples(tmp_path / "b", POOL_B)
    assert main(["noise-study", str(a), str(b), "--metric", "runtime_s", "--trials", "50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| benchmark | metric | cv | B vs A | rule | false alarms | detects 2%")
    assert "lora_ranks/lora_rank/r8 | runtime_s" in out and "now: 5 runs" in out


def test_study_without_samples_says_how_to_get_them(tmp_path):
    run = {"benchmarks": []}
    with pytest.raises(ValueError, match="--bench-repeats"):
        study(run, run, ["runtime_s"])


def test_markdown_has_one_row_per_rule():
    rows = [{"benchmark": "b", "metric": "m", "rule": "r", "cv": 0.03, "n": 5,
             "session_shift": 0.07, "rates": {0.0: 0.01, 0.05: 0.5}, "declared_rel_tol": 0.05}]
    assert to_markdown(rows).splitlines()[2] == "| b | m | 3.00% | +7.0% | r | 1.0% | 50% |"


def test_a_second_calibration_session_widens_the_tolerance_by_the_drift():
    drifted = {"session_medians": [13.0], "session_samples": [20], "within_cvs": [0.03]}
    rule = next(r for r in default_rules(calibration=drifted) if r.name.startswith("now: 5 runs"))
    steady = {"session_medians": [10.0], "session_samples": [20], "within_cvs": [0.03]}
    calm = next(r for r in default_rules(calibration=steady) if r.name.startswith("now: 5 runs"))
    wide = detection_rates(cost(10.0, "s", kind="time"), POOL_A, POOL_B, rule, (0.2,),
                           trials=300)
    narrow = detection_rates(cost(10.0, "s", kind="time"), POOL_A, POOL_B, calm, (0.2,),
                             trials=300)
    assert "2 calibration session(s)" in rule.name and wide[0.2] < narrow[0.2]


def test_summary_averages_each_rule_over_rows(tmp_path, capsys):
    a = _run_with_samples(tmp_path / "a", POOL_A)
    b = _run_with_samples(tmp_path / "b", POOL_B)
    assert main(["noise-study", str(a), str(b), "--metric", "runtime_s", "--trials", "20",
                 "--summary"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| rule | rows | mean false alarms | worst false alarms")
    assert len(lines) == 2 + 4 and any("now: 5 runs" in line for line in lines)
