"""The statistics of paired rounds (llmbench.ab.paired), on cases worked out by hand and
against scipy's Wilcoxon signed-rank test, which the interval inverts."""

import math

import pytest
from scipy.stats import wilcoxon

from llmbench.ab.paired import (
    DIFFERENCE,
    LOG_RATIO,
    RELATIVE_DIFFERENCE,
    hodges_lehmann,
    paired_change,
    rounds_needed,
    signed_rank_cdf,
)


def test_signed_rank_distribution_of_three_values():
    # T+ over ranks {1, 2, 3}: the 8 sign patterns give 0, 1, 2, 3, 3, 4, 5, 6
    assert list(signed_rank_cdf(3) * 8) == pytest.approx([1, 2, 3, 5, 6, 7, 8])


def test_hodges_lehmann_by_hand():
    # Walsh averages of 1, 2, 4: 1, 1.5, 2.5, 2, 3, 4 -> sorted 1 1.5 2 2.5 3 4, median 2.25.
    # P(T+ <= 0) = 1/8: at alpha 1/8 the interval leaves out no Walsh average beyond the
    # extremes; at a smaller alpha three values cannot reach it.
    interval = hodges_lehmann([1, 2, 4], alpha=0.125)
    assert (interval.estimate, interval.low, interval.high) == (2.25, 1, 4)
    wide = hodges_lehmann([1, 2, 4], alpha=0.1)
    assert wide.estimate == 2.25 and wide.low == -math.inf and wide.high == math.inf


def test_one_outlier_moves_the_estimate_little():
    calm = [0.10, 0.11, 0.09, 0.10, 0.12, 0.08, 0.10, 0.11, 0.09, 0.10]
    spiked = calm[:-1] + [0.90]  # one round a neighbour hit
    assert hodges_lehmann(spiked, 0.001).estimate == pytest.approx(0.10)
    assert sum(spiked) / len(spiked) == pytest.approx(0.18)


@pytest.mark.parametrize("n", [10, 13, 25])
def test_interval_bounds_are_where_scipys_test_starts_to_reject(n):
    values = [0.05 + 0.03 * math.sin(3.7 * i) + 0.001 * i for i in range(n)]
    interval = hodges_lehmann(values, 0.001)
    eps = 1e-9

    def p_above(theta):
        return wilcoxon([v - theta for v in values], alternative="greater").pvalue

    def p_below(theta):
        return wilcoxon([v - theta for v in values], alternative="less").pvalue

    assert p_above(interval.low - eps) <= 0.001 < p_above(interval.low + eps)
    assert p_below(interval.high + eps) <= 0.001 < p_below(interval.high - eps)


def test_rounds_needed_for_an_interval():
    assert rounds_needed(0.001) == 10  # 2^-10 = 0.00098
    assert rounds_needed(0.05) == 5
    assert rounds_needed(0.125) == 3


def test_constant_ratio_is_the_change_with_a_point_interval():
    change = paired_change([2.0] * 10, [2.2] * 10, alpha=0.001)
    assert change.scale == LOG_RATIO
    assert change.relative(change.centre.estimate) == pytest.approx(0.10)
    assert change.describe() == "+10.0% [+10.0%, +10.0%]"
    assert change.p_higher < 0.001 and change.p_lower == 1.0


def test_log_ratios_treat_twice_as_slow_and_twice_as_fast_alike():
    slower = paired_change([1.0] * 10, [2.0] * 10, alpha=0.001)
    faster = paired_change([2.0] * 10, [1.0] * 10, alpha=0.001)
    assert slower.centre.estimate == pytest.approx(-faster.centre.estimate)


def test_zero_values_use_differences_relative_to_a():
    change = paired_change([0.0, 4.0, 4.0], [1.0, 5.0, 5.0], alpha=0.125)
    assert change.scale == RELATIVE_DIFFERENCE
    assert change.relative(change.centre.estimate) == pytest.approx(0.25)  # 1 MB of 4


def test_a_median_of_zero_leaves_plain_differences():
    change = paired_change([0.0, 0.0, 0.0], [0.5, 0.5, 0.5], alpha=0.125)
    assert change.scale == DIFFERENCE
    assert change.centre.estimate == 0.5
    assert "A's median is 0" in change.describe()


def test_identical_rounds_give_no_evidence_either_way():
    change = paired_change([1.0] * 10, [1.0] * 10, alpha=0.001)
    assert (change.p_higher, change.p_lower) == (1.0, 1.0)
    assert change.centre.low == change.centre.high == 0.0


def test_too_few_rounds_say_so_instead_of_an_interval():
    change = paired_change([1.0] * 5, [1.1] * 5, alpha=0.001)
    assert change.describe() == "+10.0% [5 rounds: too few for the interval]"


def test_unpaired_counts_are_refused():
    with pytest.raises(ValueError, match="equal"):
        paired_change([1.0, 2.0], [1.0], alpha=0.001)
