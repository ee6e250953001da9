"""Paired per-question verdicts: the t-test by hand, and where the comparison uses it."""

from __future__ import annotations

import math

import pytest

from llmbench.regression.baselines import BaselineStore
from llmbench.regression.compare import Context, Reference, compare_metric
from llmbench.regression.paired import (
    MIN_PAIRED_ITEMS,
    betainc,
    paired_test,
    t_quantile,
    t_sf,
)
from llmbench.regression.repeats import SeedPolicy, merge_repeats
from llmbench.regression.results import Determinism, Metric, Result, quality
from llmbench.regression.verdicts import Verdict

# --- the t-distribution, against closed forms ---------------------------------------------------


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0, 3.0, 12.0])
def test_t_tail_matches_the_closed_forms_for_one_and_two_degrees_of_freedom(t):
    assert t_sf(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi)  # Cauchy
    assert t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)))
    assert t_sf(-t, 2) == pytest.approx(1 - t_sf(t, 2))


def test_t_quantiles_are_the_printed_table_values():
    assert t_quantile(0.975, 2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile(0.975, 10) == pytest.approx(2.228, abs=1e-3)
    assert t_quantile(0.999, 11) == pytest.approx(4.025, abs=1e-3)
    assert t_quantile(0.975, 10_000) == pytest.approx(1.960, abs=1e-3)  # the normal's


def test_incomplete_beta_with_one_parameter_one_is_a_power():
    # I_x(a, 1) = x^a and I_x(1, b) = 1 - (1 - x)^b
    assert betainc(3.0, 1.0, 0.4) == pytest.approx(0.4 ** 3)
    assert betainc(1.0, 2.5, 0.3) == pytest.approx(1 - 0.7 ** 2.5)
    assert (betainc(2.0, 3.0, 0.0), betainc(2.0, 3.0, 1.0)) == (0.0, 1.0)


# --- the paired test, worked by hand ---------------------------------------------------------------

def test_three_questions_that_each_dropped():
    """d = (-0.1, -0.2, -0.3): mean -0.2, sd 0.1, se 0.1/sqrt(3) = 0.0577, t = -3.464 on 2 df;
    p = 1/2 - 3.464 / (2 sqrt(2 + 12)) = 0.0371; CI -0.2 -+ 4.303 * 0.0577 = (-0.448, 0.048)."""
    test = paired_test({"a": 0.8, "b": 0.6, "c": 0.7}, {"a": 0.7, "b": 0.4, "c": 0.4})
    assert (test.n, test.mean, test.sd) == (3, pytest.approx(-0.2), pytest.approx(0.1))
    assert test.t == pytest.approx(-3.4641, abs=1e-4)
    assert test.p_value == pytest.approx(0.03709, abs=1e-5)
    assert (test.low, test.high) == (pytest.approx(-0.4484, abs=1e-4),
                                     pytest.approx(0.0484, abs=1e-4))
    assert test.dz == pytest.approx(-2.0)
    assert test.describe() == ("paired over 3 questions: mean -0.2 (95% CI -0.448 to +0.0484), "
                               "dz=-2.00, t(2)=-3.46 p=0.037")


def test_only_the_questions_both_sides_scored_are_paired():
    test = paired_test({"a": 0.5, "b": 0.5, "gone": 0.0}, {"b": 0.9, "a": 0.7, "new": 1.0})
    assert test.n == 2 and test.mean == pytest.approx(0.3)  # (0.4 + 0.2) / 2


def test_the_same_shift_on_every_question_is_certain_and_no_shift_is_nothing():
    shifted = paired_test({"a": 0.5, "b": 0.25}, {"a": 0.25, "b": 0.0})
    assert shifted.p_value == 0.0 and shifted.t == -math.inf and shifted.dz == -math.inf
    same = paired_test({"a": 0.5, "b": 0.2}, {"a": 0.5, "b": 0.2})
    assert same.p_value == 1.0 and same.t == 0.0


def test_one_shared_question_is_no_test():
    with pytest.raises(ValueError, match="two or more"):
        paired_test({"a": 0.5}, {"a": 0.4, "b": 0.1})


# --- which comparisons are paired -------------------------------------------------------------------

def judge_score(items, determinism=Determinism.NOISY):
    metric = quality(sum(items.values()) / len(items), "", "higher", abs_tol=0.05,
                     determinism=determinism)
    metric.items = dict(items)
    return metric


BASE = {f"q{i}": score for i, score in enumerate(
    [0.9, 0.2, 0.6, 0.8, 0.4, 0.7, 0.3, 0.5, 0.9, 0.1, 0.6, 0.8])}


def reference(items):
    return Reference(sum(items.values()) / len(items), items=items)


def test_a_consistent_drop_of_a_noisy_metric_is_a_regression_the_means_alone_would_not_show():
    """Every question 0.1 lower give or take 0.02: one run each side, and the differences
    themselves say how noisy they are."""
    drops = [0.08, 0.12, 0.10, 0.09, 0.11, 0.10, 0.12, 0.08, 0.10, 0.09, 0.11, 0.10]
    current = {q: BASE[q] - d for q, d in zip(BASE, drops)}
    row = compare_metric("correctness", judge_score(current), reference(BASE))
    assert row.verdict is Verdict.REGRESSED
    assert row.test.startswith("paired over 12 questions: mean -0.1 (95% CI -0.109 to -0.0914)")
    assert row.p_value < 1e-6


def test_a_mean_drop_that_is_noise_question_by_question_is_within_noise():
    swings = [0.3, -0.4, 0.2, -0.3, -0.2, 0.1, -0.3, 0.2, -0.4, 0.3, -0.1, -0.2]
    current = {q: min(1.0, max(0.0, BASE[q] + s)) for q, s in zip(BASE, swings)}
    assert sum(current.values()) / 12 < sum(BASE.values()) / 12 - 0.05  # beyond tolerance
    row = compare_metric("correctness", judge_score(current), reference(BASE))
    assert row.verdict in (Verdict.WITHIN_NOISE, Verdict.UNCONFIRMED)
    assert row.test.startswith("paired over 12 questions")


def test_a_change_within_tolerance_passes_whatever_the_pairs_say():
    current = {q: BASE[q] - 0.03 for q in BASE}
    row = compare_metric("correctness", judge_score(current), reference(BASE))
    assert row.verdict is Verdict.PASS


def test_reproducible_metrics_and_too_few_questions_are_not_paired():
    current = {q: BASE[q] - 0.1 for q in BASE}
    same_platform = Context(same_platform=True)
    seeded = compare_metric("meteor", judge_score(current, Determinism.SEEDED),
                            reference(BASE), same_platform)
    assert seeded.test.startswith("near-exact") and seeded.verdict is Verdict.REGRESSED
    fresh_seeds = compare_metric("meteor", judge_score(current, Determinism.SEEDED),
                                 reference(BASE), Context(same_platform=True, same_seeds=False))
    assert fresh_seeds.test.startswith("paired over 12")
    few = dict(list(current.items())[:MIN_PAIRED_ITEMS - 1])
    row = compare_metric("correctness", judge_score(few), reference(BASE))
    assert not row.test.startswith("paired")


# --- where the per-question scores are kept ---------------------------------------------------------

def test_a_baseline_keeps_each_question_score_and_gives_it_back(tmp_path):
    store = BaselineStore(tmp_path)
    result = Result("rag", {"case": 1}, {"correctness": judge_score({"q1": 0.5, "q2": 0.25})})
    store.write("p", "rag/rag/x", result, {"device_class": "cpu", "hardware_key": "cpu/x"},
                {"commit": "abc"})
    ref = store.load("p", "rag/rag/x").references("quality", "cpu")["correctness"]
    assert ref.items == {"q1": 0.5, "q2": 0.25}
    assert Metric.from_dict(result.metrics["correctness"].to_dict()).items == {"q1": 0.5,
                                                                               "q2": 0.25}


def test_repeats_of_a_noisy_metric_average_each_question():
    runs = [Result("rag", {}, {"correctness": judge_score(items)})
            for items in ({"q1": 0.2, "q2": 1.0}, {"q1": 0.4, "q2": 0.5, "q3": 0.9})]
    merged = merge_repeats(runs, [0, 1], SeedPolicy.FRESH)
    assert merged.metrics["correctness"].items == pytest.approx({"q1": 0.3, "q2": 0.75,
                                                                 "q3": 0.9})
