"""compare_metric / compare_result: the one rule that judges a metric against its baseline."""

import math

import pytest

from llmbench.regression.compare import Context, Reference, compare_metric, compare_result
from llmbench.regression.results import Determinism, Metric, Result, cost, info, quality
from llmbench.regression.stats import DEFAULT_ALPHA
from llmbench.regression.verdicts import Outcome, Verdict, outcome_of

# What --calibrate measured on a steady machine: two sessions, 2 % drift between them.
STEADY = {"within_cv": 0.02, "between_cv": 0.02, "sessions": 2}


def rows_of(result, quality_refs=None, cost_refs=None, **kwargs):
    return {r.name: r for r in compare_result(result, quality_refs, cost_refs, **kwargs)}


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
def test_a_noiseless_metric_is_judged_by_its_tolerance_alone(direction, current, expected):
    # No samples, no declared noise: nothing to forgive beyond the tolerance.
    metric = quality(current, direction=direction, rel_tol=0.05)
    assert compare_metric("m", metric, 1.0).verdict is expected


def test_absolute_tolerance_wins_when_larger():
    row = compare_metric("m", quality(0.09, abs_tol=0.1, rel_tol=0.01), 0.0)
    assert row.verdict is Verdict.PASS
    assert row.allowed == pytest.approx(0.1)


def test_fixed_metric_is_exact_and_seeded_is_near_exact_on_the_same_platform():
    fixed = Metric(100.0, "params", "exact")
    assert compare_metric("p", fixed, 100.0).verdict is Verdict.PASS
    assert compare_metric("p", Metric(101.0, "params", "exact"), 100.0).verdict \
        is Verdict.REGRESSED
    loss = quality(1.0 + 1e-7, kind="loss", determinism=Determinism.SEEDED)
    same = Context(same_platform=True)
    assert compare_metric("loss", loss, 1.0, same).verdict is Verdict.PASS
    worse = quality(1.01, kind="loss", determinism=Determinism.SEEDED)
    assert compare_metric("loss", worse, 1.0, same).verdict is Verdict.REGRESSED
    # Elsewhere, a seeded loss gets its declared tolerance (3 %, 0.02 nats).
    assert compare_metric("loss", worse, 1.0, Context()).verdict is Verdict.PASS


def test_cpu_time_has_a_floor_in_seconds_whatever_the_unit():
    assert cost(0.025, "s", kind="time").abs_tol == pytest.approx(0.025)
    assert cost(25.0, "ms", kind="time").abs_tol == pytest.approx(25.0)
    # a whole-session shift of a few milliseconds on a tiny timing is not a regression ...
    samples = (0.024, 0.025, 0.026, 0.025, 0.0255)
    shifted = compare_metric("load_s", cost(0.037, "s", kind="time"), Reference(0.025, samples))
    assert shifted.verdict is Verdict.PASS
    # ... a shift beyond the floor still is, in repeated samples (one could be a spike)
    tripled = cost(0.080, "s", kind="time")
    tripled.samples = [0.079, 0.080, 0.081]
    assert compare_metric("load_s", tripled, Reference(0.025, samples)).verdict \
        is Verdict.REGRESSED
    with pytest.raises(ValueError, match="declared in 's'.*'tokens'"):
        cost(1.0, "tokens", kind="time")


def test_one_sample_of_a_short_timing_may_carry_a_spike():
    # Measured: a 68 ms fp4 load took 98 ms in one sample of a later run on unchanged code.
    baseline = Reference(0.0685, (0.0698, 0.0671, 0.0668, 0.0685, 0.0729), STEADY)
    spiked = compare_metric("load_s", cost(0.098, "s", kind="time"), baseline)
    assert spiked.verdict is Verdict.UNCONFIRMED
    assert "one-sample spikes 0.02 s" in spiked.test
    # Five samples: one spike no longer moves the median, and a doubled load is caught.
    doubled = cost(0.137, "s", kind="time")
    doubled.samples = [0.135, 0.137, 0.139, 0.136, 0.170]
    row = compare_metric("load_s", doubled, baseline)
    assert row.verdict is Verdict.REGRESSED and "spikes" not in row.test
    # The spike is absolute: a doubled 3 s run is caught from one sample.
    long_run = Reference(3.0, (2.95, 3.0, 3.05, 3.0, 2.98))
    assert compare_metric("runtime_s", cost(6.0, "s", kind="time"), long_run).verdict \
        is Verdict.REGRESSED
    # Written in seconds, applied in the metric's unit.
    in_ms = compare_metric("load_ms", cost(98.0, "ms", kind="time"),
                           Reference(68.5, (69.8, 67.1, 66.8, 68.5, 72.9), STEADY))
    assert in_ms.verdict is Verdict.UNCONFIRMED and "spikes 20 ms" in in_ms.test


def test_one_sample_cost_metric_needs_a_large_shift_to_regress():
    baseline = Reference(1.0, (0.98, 1.0, 1.02, 0.99, 1.01))
    slower = compare_metric("t", cost(1.25, "s", kind="time"), baseline)
    assert slower.verdict in (Verdict.UNCONFIRMED, Verdict.WITHIN_NOISE)
    assert slower.p_value > DEFAULT_ALPHA
    doubled = compare_metric("t", cost(2.0, "s", kind="time"), baseline)
    assert doubled.verdict is Verdict.REGRESSED
    assert "z=" in doubled.test and "p=" in doubled.test


def test_repeats_shrink_the_noise_and_confirm_a_smaller_shift():
    baseline = Reference(1.0, (0.98, 1.0, 1.02, 0.99, 1.01), STEADY)
    once = cost(1.25, "s", kind="time")
    five = cost(1.25, "s", kind="time")
    five.samples = [1.24, 1.25, 1.26, 1.23, 1.27]
    assert compare_metric("t", once, baseline).verdict is Verdict.UNCONFIRMED
    assert compare_metric("t", five, baseline).verdict is Verdict.REGRESSED


def test_uncalibrated_cpu_timings_allow_a_shared_vms_drift_and_still_catch_2x():
    baseline = Reference(1.0, (0.98, 1.0, 1.02, 0.99, 1.01))
    # measured with unchanged code on the shared VM, the probe calm: +29 % over 3 samples
    vm_drift = cost(1.29, "s", kind="time")
    vm_drift.samples = [1.27, 1.29, 1.31]
    assert compare_metric("t", vm_drift, baseline).verdict is not Verdict.REGRESSED
    assert "drift 25.0%" in compare_metric("t", vm_drift, baseline).test
    for samples in ([2.0], [1.98, 2.0, 2.02, 1.99, 2.01]):
        doubled = cost(2.0, "s", kind="time")
        doubled.samples = samples
        assert compare_metric("t", doubled, baseline).verdict is Verdict.REGRESSED


def test_a_calibration_applies_only_on_the_cpu_it_was_measured_on():
    here = "AVX512; cpu family 25 model 17 stepping 1"
    current = cost(1.3, "s", kind="time")
    current.samples = [1.29, 1.3, 1.31]
    measured_here = Reference(1.0, (0.99, 1.0, 1.01), {**STEADY, "cpu_signature": here})
    row = compare_metric("t", current, measured_here, Context(cpu_signature=here))
    assert row.verdict is Verdict.REGRESSED and "calibrated (2 sessions)" in row.test
    elsewhere = Reference(1.0, (0.99, 1.0, 1.01), {**STEADY, "cpu_signature": "AVX2"})
    unsigned = Reference(1.0, (0.99, 1.0, 1.01), STEADY)  # written before signatures
    for reference in (elsewhere, unsigned):
        row = compare_metric("t", current, reference, Context(cpu_signature=here))
        assert row.verdict is not Verdict.REGRESSED
        assert "calibration from another CPU ignored" in row.test


def test_calibrated_drift_between_sessions_widens_the_test():
    quiet = Reference(1.0, (0.99, 1.0, 1.01), STEADY)
    drifting = Reference(1.0, (0.99, 1.0, 1.01), {"within_cv": 0.01, "between_cv": 0.15,
                                                 "sessions": 3})
    current = cost(1.3, "s", kind="time")
    current.samples = [1.29, 1.3, 1.31]
    assert compare_metric("t", current, quiet).verdict is Verdict.REGRESSED
    row = compare_metric("t", current, drifting)
    assert row.verdict is Verdict.UNCONFIRMED and "calibrated (3 sessions)" in row.test


def test_a_calibrated_baseline_is_centred_on_the_mean_of_its_sessions():
    # Five calibration sessions; the last (the stored value) happened to be a low one.
    medians = [1.02, 1.0, 1.03, 0.99, 0.95]
    noise = {"within_cv": 0.01, "between_cv": 0.03, "sessions": 5, "session_medians": medians}
    calibrated = Reference(0.95, (0.94, 0.95, 0.96), noise)
    same_as_usual = cost(1.0, "s", kind="time")
    same_as_usual.samples = [0.99, 1.0, 1.01]
    row = compare_metric("t", same_as_usual, calibrated)
    assert row.baseline == pytest.approx(0.998) and row.verdict is Verdict.PASS
    assert "baseline the mean of 5 sessions" not in row.test  # within tolerance: no test ran
    slower = cost(1.25, "s", kind="time")
    slower.samples = [1.24, 1.25, 1.26]
    row = compare_metric("t", slower, calibrated)
    assert row.verdict is Verdict.REGRESSED and "baseline the mean of 5 sessions" in row.test
    # Re-recorded since the calibration (another value): that value is the centre, and the
    # drift against one session is sqrt(2) x the calibrated one.
    rerecorded = Reference(1.0, (0.99, 1.0, 1.01), noise)
    row = compare_metric("t", slower, rerecorded)
    assert row.baseline == 1.0 and "mean of" not in row.test and "drift 4.2%" in row.test


def test_noisy_samples_today_make_the_test_more_careful():
    baseline = Reference(1.0, (0.99, 1.0, 1.01, 1.0, 0.995))
    current = cost(1.2, "s", kind="time")
    current.samples = [0.9, 1.5, 1.2, 1.0, 1.4]  # a wide spread: not a clean shift
    assert compare_metric("t", current, baseline).verdict is not Verdict.REGRESSED


def test_improvements_need_evidence_too():
    baseline = Reference(1.0, (0.98, 1.0, 1.02), STEADY)
    assert compare_metric("t", cost(0.85, "s", kind="time"), baseline).verdict \
        is Verdict.WITHIN_NOISE
    assert compare_metric("t", cost(0.4, "s", kind="time"), baseline).verdict \
        is Verdict.IMPROVED


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_fail_with_or_without_a_baseline(bad):
    result = Result("s", {}, {"loss": quality(bad, rel_tol=10)})
    assert rows_of(result, {"loss": 1.0})["loss"].verdict is Verdict.FAILED
    assert rows_of(result, None)["loss"].verdict is Verdict.FAILED
    assert outcome_of([Verdict.FAILED, Verdict.PASS]) is Outcome.FAILED


def test_missing_fails_but_unavailable_with_a_reason_does_not():
    result = Result("s", {}, {"a": quality(1.0)})
    rows = rows_of(result, {"a": 1.0, "meteor": 0.3})
    assert rows["meteor"].verdict is Verdict.MISSING
    result.unavailable["meteor"] = "WordNet is not installed"
    rows = rows_of(result, {"a": 1.0, "meteor": 0.3})
    assert rows["meteor"].verdict is Verdict.UNAVAILABLE
    assert rows["meteor"].reason == "WordNet is not installed"
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.PASS


def test_new_metric_is_reported_not_failed():
    rows = rows_of(Result("s", {}, {"a": quality(1.0), "b": quality(5.0)}), {"a": 1.0})
    assert rows["b"].verdict is Verdict.NEW
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.PASS


def test_cost_without_a_baseline_for_this_hardware_is_not_compared_with_the_reason():
    result = Result("s", {}, {"loss": quality(1.0), "runtime": cost(99.0, "s", kind="time")})
    rows = rows_of(result, {"loss": 1.0}, None, cost_skipped="no cost baseline for hardware x")
    assert rows["runtime"].verdict is Verdict.NOT_COMPARED
    assert rows["runtime"].reason == "no cost baseline for hardware x"


def test_nothing_compared_is_not_pass():
    result = Result("s", {}, {"runtime": cost(1.0, "s", kind="time")})
    rows = rows_of(result, None, None)
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.NOT_COMPARED


def test_a_starved_measurement_is_busy_not_regressed():
    result = Result("s", {}, {"loss": quality(1.0), "runtime": cost(4.0, "s", kind="time")},
                    busy="machine busy: the process got 30% of a core")
    rows = rows_of(result, {"loss": 1.0}, {"runtime": 1.0})
    assert rows["runtime"].verdict is Verdict.BUSY
    assert rows["loss"].verdict is Verdict.PASS
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.BUSY


def test_a_cost_relative_to_a_reference_beside_it_is_judged_on_a_busy_machine():
    def step_cost(value):
        return cost(value, "x reference", kind="relative_time")

    busy = "machine 1.62x slower: the speed probe took 2.7 ms against 1.7 ms"
    slower = Result("s", {}, {"runtime": cost(4.0, "s", kind="time"),
                              "relative": step_cost(6.0)}, busy=busy)
    slower.metrics["relative"].samples = [6.0, 6.1, 5.9, 6.0, 6.2]
    rows = rows_of(slower, None, {"runtime": 1.0, "relative": Reference(
        5.0, (5.0, 5.1, 4.9, 5.0, 5.05))})
    assert rows["runtime"].verdict is Verdict.BUSY
    assert rows["relative"].verdict is Verdict.REGRESSED
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.REGRESSED
    same = Result("s", {}, {"relative": step_cost(5.1)}, busy=busy)
    assert rows_of(same, None, {"relative": 5.0})["relative"].verdict is Verdict.PASS


def test_when_other_work_took_the_cpu_a_cost_relative_to_a_reference_is_not_judged_either():
    # both the step and its reference were preempted at random: their ratio is noise too
    contended = Result("s", {}, {"runtime": cost(4.0, "s", kind="time"),
                                 "relative": cost(6.0, "x reference", kind="relative_time")},
                       busy="machine busy: this process waited 1.20 s for a CPU held by other "
                            "work", contended=True)
    rows = rows_of(contended, None, {"runtime": 1.0, "relative": 5.0})
    assert rows["runtime"].verdict is Verdict.BUSY and rows["relative"].verdict is Verdict.BUSY
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.BUSY


def test_nondeterministic_metric_fails():
    result = Result("s", {}, {"loss": quality(1.0, determinism=Determinism.SEEDED)},
                    nondeterministic={"loss": [1.0, 1.1]})
    rows = rows_of(result, {"loss": 1.0})
    assert rows["loss"].verdict is Verdict.NONDETERMINISTIC
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.FAILED


def test_info_metrics_are_recorded_not_compared():
    rows = rows_of(Result("s", {}, {"rounds": info(5)}), {"rounds": 9})
    assert rows["rounds"].verdict is Verdict.RECORDED


def test_outcome_order_is_worst_first():
    assert outcome_of([Verdict.IMPROVED, Verdict.UNCONFIRMED]) is Outcome.UNCONFIRMED
    assert outcome_of([Verdict.REGRESSED, Verdict.MISSING]) is Outcome.REGRESSED
    assert outcome_of([Verdict.BUSY, Verdict.IMPROVED]) is Outcome.IMPROVED
    assert outcome_of([Verdict.PASS, Verdict.NOT_COMPARED]) is Outcome.PASS


def test_the_probed_machine_drift_widens_timings_but_not_memory():
    baseline = Reference(1.0, (0.99, 1.0, 1.01), STEADY)
    current = cost(1.3, "s", kind="time")
    current.samples = [1.29, 1.3, 1.31]
    same_speed = compare_metric("t", current, baseline, Context(machine_drift=0.02))
    assert same_speed.verdict is Verdict.REGRESSED
    # the probe saw the machine 25 % slower than when the baseline was recorded
    slower_machine = compare_metric("t", current, baseline, Context(machine_drift=0.25))
    assert slower_machine.verdict is not Verdict.REGRESSED
    assert "machine's speed" in slower_machine.test
    # a 2x slowdown is still a regression on that machine
    doubled = cost(2.0, "s", kind="time")
    doubled.samples = [1.99, 2.0, 2.01]
    assert compare_metric("t", doubled, baseline,
                          Context(machine_drift=0.25)).verdict is Verdict.REGRESSED
    grown = cost(130.0, "MB", kind="memory")
    grown.samples = [129.0, 130.0, 131.0]
    memory = compare_metric("m", grown, Reference(100.0, (99.0, 100.0, 101.0)),
                            Context(machine_drift=0.25))
    assert memory.verdict is Verdict.REGRESSED


@pytest.mark.parametrize("growth_mb, verdict", [
    (1564.0, Verdict.WITHIN_NOISE),  # the lowest of 8 unchanged embedded r8 sessions
    (2000.0, Verdict.WITHIN_NOISE),
    (2600.0, Verdict.REGRESSED),  # +41 %
    (1000.0, Verdict.IMPROVED),
])
def test_a_process_memory_growth_is_judged_against_its_measured_session_drift(growth_mb,
                                                                             verdict):
    # one run a side, as the LoRA benchmarks record it; baseline a typical r8 session
    current = cost(growth_mb, "MB", kind="memory")
    assert compare_metric("rss_growth_mb", current, Reference(1849.5, (1849.5,)),
                          Context()).verdict is verdict


@pytest.mark.parametrize("ratio, verdict", [
    (0.85, Verdict.WITHIN_NOISE),  # unchanged code read 0.77-1.14 over 6 embedded sessions
    (1.14, Verdict.WITHIN_NOISE),
    (0.77, Verdict.UNCONFIRMED),  # the lowest of them: suggestive (p 0.08), never a failure
    (0.45, Verdict.REGRESSED),  # the loop at half the Trainer's speed
])
def test_a_same_session_speed_ratio_is_judged_against_its_measured_session_drift(ratio,
                                                                                 verdict):
    current = cost(ratio, "x", "higher", kind="speed_ratio")
    assert compare_metric("loop_vs_trainer_speed", current, Reference(0.99, (0.99,)),
                          Context()).verdict is verdict
