import math

import pytest

from llmbench.regression.compare import (
    Context,
    Outcome,
    Reference,
    Verdict,
    compare_metric,
    compare_metrics,
)
from llmbench.regression.results import Determinism, Metric, cost, info, quality


@pytest.mark.parametrize(
    ("direction", "current", "expected"),
    [
        ("lower", 1.04, Verdict.PASS),
        ("lower", 1.06, Verdict.REGRESSED),
        ("lower", 0.94, Verdict.IMPROVED),
        ("higher", 0.94, Verdict.REGRESSED),
        ("higher", 1.06, Verdict.IMPROVED),
        ("higher", 0.96, Verdict.PASS),
        ("exact", 1.06, Verdict.REGRESSED),
        ("exact", 0.94, Verdict.REGRESSED),
        ("exact", 1.0, Verdict.PASS),
    ],
)
def test_direction_and_relative_tolerance(direction, current, expected):
    metric = quality(current, direction=direction, rel_tol=0.05)
    assert compare_metric("m", metric, 1.0).verdict is expected


def test_absolute_tolerance_wins_when_larger():
    row = compare_metric("m", quality(0.09, abs_tol=0.1, rel_tol=0.01), 0.0)
    assert row.verdict is Verdict.PASS
    assert row.allowed == pytest.approx(0.1)


def test_zero_tolerance_flags_any_worsening():
    assert compare_metric("m", quality(1.0 + 1e-9), 1.0).verdict is Verdict.REGRESSED


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_always_fail(bad):
    comparison = compare_metrics({"loss": quality(bad, rel_tol=10)}, {"loss": 1.0}, None)
    assert comparison.rows[0].verdict is Verdict.INVALID
    assert comparison.outcome is Outcome.REGRESSED


def test_nan_fails_even_without_a_baseline_entry():
    comparison = compare_metrics({"loss": quality(math.nan)}, None, None)
    assert comparison.outcome is Outcome.REGRESSED


def test_metric_missing_from_result_fails():
    comparison = compare_metrics({"a": quality(1.0)}, {"a": 1.0, "b": 2.0}, None)
    missing = [r for r in comparison.rows if r.name == "b"]
    assert missing[0].verdict is Verdict.MISSING
    assert comparison.outcome is Outcome.REGRESSED


def test_new_metric_is_reported_not_failed():
    comparison = compare_metrics({"a": quality(1.0), "b": quality(5.0)}, {"a": 1.0}, None)
    assert {r.name: r.verdict for r in comparison.rows}["b"] is Verdict.NEW
    assert comparison.outcome is Outcome.PASS


def test_cost_metrics_without_hardware_baseline_are_not_compared():
    comparison = compare_metrics({"loss": quality(1.0), "runtime": cost(99.0, "s")},
                                 {"loss": 1.0}, None)
    verdicts = {r.name: r.verdict for r in comparison.rows}
    assert verdicts["runtime"] is Verdict.NOT_COMPARED
    assert comparison.outcome is Outcome.PASS


def test_cost_metrics_compare_with_same_hardware_baseline():
    comparison = compare_metrics({"runtime": cost(20.0, "s", rel_tol=0.5)}, {}, {"runtime": 10.0})
    assert comparison.rows[0].verdict is Verdict.REGRESSED


def test_info_metrics_are_recorded_never_compared():
    comparison = compare_metrics({"curve_len": info(1e9)}, {"curve_len": 1.0}, None)
    assert comparison.rows[0].verdict is Verdict.RECORDED
    assert comparison.outcome is Outcome.PASS


def test_improvement_outcome_and_moved_rows():
    comparison = compare_metrics({"a": quality(0.5, rel_tol=0.1), "b": quality(1.0)},
                                 {"a": 1.0, "b": 1.0}, None)
    assert comparison.outcome is Outcome.IMPROVED
    assert [r.name for r in comparison.moved()] == ["a"]


def test_negative_tolerance_is_rejected():
    with pytest.raises(ValueError, match="tolerances"):
        Metric(1.0, rel_tol=-0.1)


# --- noise-aware rules ------------------------------------------------------------------------


def test_seeded_metric_is_near_exact_on_the_same_platform_only():
    loss = quality(1.01, rel_tol=0.05, determinism=Determinism.SEEDED)
    same = compare_metric("loss", loss, 1.0, Context(same_platform=True))
    assert same.verdict is Verdict.REGRESSED and same.tolerance == "near-exact"
    other = compare_metric("loss", loss, 1.0, Context(same_platform=False))
    assert other.verdict is Verdict.PASS and other.tolerance == "declared"
    # fresh seeds on one side: the seeded metric is compared as a noisy one
    fresh = compare_metric("loss", loss, 1.0, Context(same_platform=True, same_seeds=False))
    assert fresh.tolerance == "declared"


def test_fixed_metric_is_exact_whatever_its_declared_tolerance():
    row = compare_metric("bytes", quality(101.0, rel_tol=0.5, determinism="fixed"), 100.0)
    assert row.verdict is Verdict.REGRESSED and row.test == "exact"


def test_calibrated_tolerance_replaces_the_declared_one():
    ref = Reference(10.0, (9.9, 10.0, 10.1), {"rel_tol": 0.03, "sigmas": 3,
                                              "spread": {"n": 3, "cv": 0.01}})
    row = compare_metric("runtime", cost(10.2, "s", rel_tol=0.5), ref)
    assert row.allowed == pytest.approx(0.3) and row.tolerance.startswith("calibrated 3σ")
    assert row.verdict is Verdict.PASS


def test_beyond_tolerance_needs_significance_to_fail():
    ref = Reference(10.0, (10.0, 10.4, 9.8, 10.1, 10.2))
    noisy = cost(10.4, "s", rel_tol=0.02)
    noisy.samples = [10.5, 9.9, 10.4, 10.0, 10.6]
    assert compare_metric("t", noisy, ref).verdict is Verdict.WITHIN_NOISE
    real = cost(12.0, "s", rel_tol=0.02)
    real.samples = [12.0, 12.4, 11.8, 12.1, 12.2]
    row = compare_metric("t", real, ref)
    assert row.verdict is Verdict.REGRESSED and row.p_value == pytest.approx(1 / 252)
    assert (row.n_current, row.n_baseline) == (5, 5)


def test_significant_improvement_is_improved():
    ref = Reference(10.0, (10.0, 10.4, 9.8, 10.1, 10.2))
    fast = cost(8.0, "s", rel_tol=0.02)
    fast.samples = [8.0, 8.1, 7.9, 8.05, 8.2]
    assert compare_metric("t", fast, ref).verdict is Verdict.IMPROVED


def test_nondeterministic_metric_fails():
    comparison = compare_metrics({"loss": quality(1.0)}, {"loss": 1.0}, None,
                                 nondeterministic={"loss"})
    assert comparison.rows[0].verdict is Verdict.NONDETERMINISTIC
    assert comparison.outcome is Outcome.REGRESSED
