import math

import pytest

from llmbench.regression.stats import (
    calibrated_tolerance,
    mean_interval,
    min_mann_whitney_p,
    near_equal,
    shift_is_significant,
    spread,
)


def test_spread_of_samples():
    measured = spread([9.0, 10.0, 11.0])
    assert (measured.n, measured.mean, measured.median, measured.std) == (3, 10.0, 10.0, 1.0)
    assert measured.cv == pytest.approx(0.1)
    assert spread([5.0]).std == 0.0


def test_spread_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no samples"):
        spread([])


def test_calibrated_tolerance_is_three_sigma_alone_and_one_sigma_with_a_test():
    tolerance = calibrated_tolerance([9.0, 10.0, 11.0])
    assert tolerance["rel_tol"] == pytest.approx(0.3)
    assert tolerance["rel_tol_tested"] == pytest.approx(0.1)
    assert tolerance["spread"]["n"] == 3 and tolerance["sessions"] == 1


def test_a_later_session_adds_the_drift_between_sessions():
    first = calibrated_tolerance([9.0, 10.0, 11.0])
    second = calibrated_tolerance([10.8, 11.0, 11.2], first)
    assert second["sessions"] == 2 and second["session_medians"] == [10.0, 11.0]
    between = spread([10.0, 11.0]).cv
    within = math.sqrt((0.1 ** 2 + spread([10.8, 11.0, 11.2]).cv ** 2) / 2)
    assert second["sigma"] == pytest.approx(math.sqrt(within ** 2 + between ** 2))
    assert second["between_cv"] == pytest.approx(between)


def test_no_tolerance_from_samples_without_spread():
    assert calibrated_tolerance([1.0, 1.0, 1.0]) is None
    assert calibrated_tolerance([1.0]) is None


def test_min_mann_whitney_p():
    assert min_mann_whitney_p(3, 3) == pytest.approx(1 / 20)
    assert min_mann_whitney_p(5, 5) == pytest.approx(1 / 252)


def test_clear_shift_is_significant_by_mann_whitney():
    base = [10.0, 10.1, 9.9, 10.05, 9.95]
    found = shift_is_significant(base, [11.0, 11.1, 10.9, 11.05, 10.95], higher=True)
    assert found.test == "Mann-Whitney" and found.significant
    assert found.p_value == pytest.approx(1 / 252)
    # the same samples are not significantly *lower*
    assert not shift_is_significant(base, [11.0, 11.1, 10.9, 11.05, 10.95],
                                    higher=False).significant


def test_overlapping_samples_are_not_significant():
    found = shift_is_significant([10.0, 10.4, 9.8, 10.1, 10.2], [10.5, 9.9, 10.4, 10.0, 10.6],
                                 higher=True)
    assert not found.significant and found.p_value > 0.01


def test_small_samples_fall_back_to_confidence_intervals():
    found = shift_is_significant([10.0, 10.01, 9.99], [12.0, 12.01, 11.99], higher=True)
    assert found.test == "99% CIs apart" and found.significant and found.p_value is None
    wide = shift_is_significant([10.0, 11.0, 9.0], [10.5, 11.5, 9.5], higher=True)
    assert wide.test == "99% CIs overlap" and not wide.significant


def test_one_sample_cannot_be_tested():
    assert shift_is_significant([10.0], [12.0, 12.1], higher=True) is None


def test_identical_samples_are_not_a_shift():
    assert not shift_is_significant([1.0, 1.0], [1.0, 1.0], higher=True).significant


def test_mean_interval_contains_the_mean():
    low, high = mean_interval([9.0, 10.0, 11.0], 0.99)
    assert low < 10.0 < high and math.isclose(10.0 - low, high - 10.0)


def test_near_equal_is_relative():
    assert near_equal(6.038496971130371, 6.038496017456055)  # measured across processes
    assert not near_equal(1.0, 1.001)
