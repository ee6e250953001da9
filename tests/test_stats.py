"""The noise model and the shift test behind every noisy verdict."""

import math

import pytest

from llmbench.regression.stats import (
    NoiseModel,
    calibrated_noise,
    noise_model,
    normal_sf,
    pooled_cv,
    shift_test,
    spread,
)


def test_spread_and_cv():
    s = spread([9.0, 10.0, 11.0])
    assert (s.n, s.mean, s.median, s.std) == (3, 10.0, 10.0, 1.0)
    assert s.cv == pytest.approx(0.1)
    assert spread([5.0]).std == 0.0


def test_normal_sf():
    assert normal_sf(0.0) == pytest.approx(0.5)
    assert normal_sf(3.0902) == pytest.approx(0.001, rel=1e-3)


def test_pooled_cv_ignores_single_samples():
    assert pooled_cv([1.0], [2.0]) is None
    assert pooled_cv([9.0, 10.0, 11.0], [5.0]) == pytest.approx(0.1)


def test_noise_model_takes_the_largest_estimate():
    model = noise_model([9.0, 10.0, 11.0], [10.0], declared_within=0.02, declared_between=0.05)
    assert model.within_cv == pytest.approx(0.1) and model.between_cv == 0.05
    calibrated = noise_model([10.0], [10.0], declared_within=0.02, declared_between=0.05,
                             calibrated={"within_cv": 0.04, "between_cv": 0.01, "sessions": 2})
    # one session's drift 1 %: this session against one baseline session differs by sqrt(2) x 1 %
    assert calibrated.within_cv == 0.04 and calibrated.between_cv == pytest.approx(0.01 * 2 ** 0.5)
    assert calibrated.source == "calibrated (2 sessions)"
    pooled = noise_model([10.0], [10.0], declared_within=0.02, declared_between=0.05,
                         calibrated={"within_cv": 0.04, "between_cv": 0.01, "sessions": 4},
                         pooled_sessions=4)
    assert pooled.between_cv == pytest.approx(0.01 * 1.25 ** 0.5)
    assert pooled.source == "calibrated (4 sessions), baseline the mean of 4 sessions"
    assert noise_model([1.0], [1.0], declared_within=0.0, declared_between=0.0,
                       spike=0.02).spike == 0.02


def test_shift_test_sd_shrinks_with_samples_but_not_below_the_drift():
    noise = NoiseModel(0.05, 0.02, "declared")
    one = shift_test([1.0] * 5, [1.2], worse_is_higher=True, noise=noise)
    many = shift_test([1.0] * 50, [1.2] * 50, worse_is_higher=True, noise=noise)
    assert one.change == pytest.approx(0.2)
    assert one.sd > many.sd > 0.02
    assert many.sd == pytest.approx(math.sqrt(0.05 ** 2 * math.pi / 2 * (2 / 50) + 0.02 ** 2))
    assert many.p_value < one.p_value


def test_a_spike_reaches_medians_of_one_or_two_samples_only():
    noise = NoiseModel(0.0, 0.0, "declared", spike=0.02)
    for n, share in ((1, 1.0), (2, 0.5), (3, 0.0), (5, 0.0)):
        test = shift_test([0.1] * 5, [0.1] * n, worse_is_higher=True, noise=noise)
        assert test.sd == pytest.approx(0.2 * share)  # 20 ms of a 100 ms median
    both_single = shift_test([0.1], [0.1], worse_is_higher=True, noise=noise)
    assert both_single.sd == pytest.approx(0.2 * math.sqrt(2))


def test_the_p_value_is_the_normal_tail_of_the_change_over_its_sd():
    # Drift alone (no per-sample noise, no spikes): sd = 0.1 whatever the sample counts.
    noise = NoiseModel(0.0, 0.1, "declared")
    two_sd = shift_test([10.0], [12.0], worse_is_higher=True, noise=noise)  # +20 %
    assert (two_sd.change, two_sd.sd, two_sd.z) == pytest.approx((0.2, 0.1, 2.0))
    # P(Z > z) from a table of the standard normal: 1 -> 0.158655, 2 -> 0.022750, 3 -> 0.001350
    assert two_sd.p_value == pytest.approx(0.0227501, rel=1e-5)
    one_sd = shift_test([10.0], [11.0], worse_is_higher=True, noise=noise)
    assert one_sd.p_value == pytest.approx(0.1586553, rel=1e-5)
    three_sd = shift_test([100.0], [70.0], worse_is_higher=False, noise=noise)  # -30 % throughput
    assert three_sd.p_value == pytest.approx(0.0013499, rel=1e-4)
    # one-sided in the direction it moved: 20 % better has the same tail
    better = shift_test([10.0], [8.0], worse_is_higher=True, noise=noise)
    assert better.change == pytest.approx(-0.2) and better.p_value == pytest.approx(0.0227501,
                                                                                      rel=1e-5)


def test_the_median_term_of_the_sd_by_hand():
    # within_cv 0.1 on 2 samples each side: 0.01 * pi/2 * (1/2 + 1/2) = 0.0157080; no drift
    noise = NoiseModel(0.1, 0.0, "declared")
    test = shift_test([10.0, 10.0], [12.5, 12.5], worse_is_higher=True, noise=noise)
    assert test.sd == pytest.approx(0.1253314, rel=1e-6)
    assert test.z == pytest.approx(0.25 / 0.1253314, rel=1e-6)  # 1.9947
    assert test.p_value == pytest.approx(0.0230372, rel=1e-4)  # P(Z > 1.9947)


def test_shift_test_direction():
    noise = NoiseModel(0.01, 0.0, "declared")
    faster = shift_test([1.0, 1.0], [0.5, 0.5], worse_is_higher=True, noise=noise)
    assert faster.change < 0
    throughput_down = shift_test([100.0], [50.0], worse_is_higher=False, noise=noise)
    assert throughput_down.change == pytest.approx(0.5)


def test_calibration_separates_within_spread_from_drift_between_sessions():
    first = calibrated_noise([9.9, 10.0, 10.1, 10.0, 9.95])
    assert first["sessions"] == 1 and first["between_cv"] == 0.0
    second = calibrated_noise([11.9, 12.0, 12.1, 12.0, 11.95], first)
    assert second["sessions"] == 2
    assert second["between_cv"] > 0.1  # the medians moved 20 %, far beyond sampling error
    steady = calibrated_noise([9.9, 10.0, 10.1, 10.0, 9.95], first)
    assert steady["between_cv"] < 0.01


def test_calibration_of_constant_samples_is_none():
    assert calibrated_noise([1.0, 1.0, 1.0]) is None
    assert calibrated_noise([1.0]) is None
