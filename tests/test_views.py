"""A benchmark's absolute and relative timings must agree before either says "improved";
a relative timing never turns a slowdown into an improvement (regression.views)."""

from __future__ import annotations

import pytest

from llmbench.regression.compare import Context, Reference, compare_result
from llmbench.regression.results import Result, cost
from llmbench.regression.verdicts import Outcome, Verdict, outcome_of

# Five samples a side: the relative timing's noise is a few percent, the absolute timing's drift
# between sessions 25 % (regression.tolerances), so only the relative one is significant at 2x.
N = 5


def timings(runtime: float, relative: float, throughput: float | None = None) -> Result:
    metrics = {"runtime_s": cost(runtime, "s", kind="time"),
               "relative_step_cost": cost(relative, "x reference", kind="relative_time")}
    if throughput is not None:
        metrics["tokens_per_s"] = cost(throughput, "tokens/s", "higher", kind="throughput")
    for metric in metrics.values():
        metric.samples = [metric.value * (1 + d) for d in (-0.01, -0.005, 0.0, 0.005, 0.01)]
    return Result("lora", {}, metrics)


def refs(runtime: float, relative: float, throughput: float | None = None,
         **noise) -> dict[str, Reference]:
    out = {"runtime_s": Reference(runtime, (runtime,) * N, noise or None),
           "relative_step_cost": Reference(relative, (relative,) * N)}
    if throughput is not None:
        out["tokens_per_s"] = Reference(throughput, (throughput,) * N)
    return out


def verdicts(result: Result, baseline: dict[str, Reference]) -> dict[str, Verdict]:
    return {r.name: r.verdict for r in compare_result(result, None, baseline, Context())}


def test_a_faster_step_on_both_views_is_improved():
    # the absolute timing moved as far (not significant on its 25 % drift, but the same way)
    seen = verdicts(timings(1.0, 2.5, 200.0), refs(2.0, 5.0, 100.0))
    assert seen["relative_step_cost"] is Verdict.IMPROVED
    assert outcome_of(list(seen.values())) is Outcome.IMPROVED


def test_a_slower_reference_is_not_an_improvement_of_the_step():
    rows = {r.name: r for r in compare_result(timings(1.0, 2.5), None, refs(1.0, 5.0),
                                              Context())}
    relative = rows["relative_step_cost"]
    assert relative.verdict is Verdict.WITHIN_NOISE
    assert "absolute timings did not follow" in relative.reason
    assert "runtime_s moved +0%" in relative.reason
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.PASS


def test_a_reference_slowed_more_than_a_slower_step_is_conflicting_and_the_slowdown_stands():
    # a library both use regressed: the step 2.5x, its reference 5x
    rows = {r.name: r for r in compare_result(timings(2.5, 2.5), None, refs(1.0, 5.0),
                                              Context())}
    assert rows["runtime_s"].verdict is Verdict.REGRESSED
    assert rows["relative_step_cost"].verdict is Verdict.CONFLICTING
    assert "runtime_s regressed +150%" in rows["relative_step_cost"].reason
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.REGRESSED


def test_a_slowdown_shared_with_the_reference_is_still_caught_by_the_absolute_timing():
    seen = verdicts(timings(2.5, 5.0), refs(1.0, 5.0))
    assert seen["runtime_s"] is Verdict.REGRESSED
    assert seen["relative_step_cost"] is Verdict.PASS


def test_a_faster_machine_is_not_an_improvement():
    # calibrated absolute noise (narrow): 30 % faster is significant there, but the step did
    # not get faster relative to the reference timed beside it
    noise = {"within_cv": 0.01, "between_cv": 0.02, "sessions": 3}
    rows = {r.name: r for r in compare_result(timings(0.7, 5.0), None,
                                              refs(1.0, 5.0, **noise), Context())}
    assert rows["runtime_s"].verdict is Verdict.WITHIN_NOISE
    assert "the machine may have run faster" in rows["runtime_s"].reason
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.PASS


def test_a_faster_machine_hiding_a_slower_step_is_conflicting_and_the_slowdown_stands():
    noise = {"within_cv": 0.01, "between_cv": 0.02, "sessions": 3}
    rows = {r.name: r for r in compare_result(timings(0.7, 7.5), None,
                                              refs(1.0, 5.0, **noise), Context())}
    assert rows["relative_step_cost"].verdict is Verdict.REGRESSED
    assert rows["runtime_s"].verdict is Verdict.CONFLICTING
    assert outcome_of([r.verdict for r in rows.values()]) is Outcome.REGRESSED


def test_a_relative_gain_with_the_absolute_timings_busy_is_not_confirmed():
    result = timings(1.0, 2.5)
    result.busy = "machine 1.62x slower: the speed probe took 2.7 ms against 1.7 ms"
    rows = {r.name: r for r in compare_result(result, None, refs(1.0, 5.0), Context())}
    assert rows["runtime_s"].verdict is Verdict.BUSY
    assert rows["relative_step_cost"].verdict is Verdict.WITHIN_NOISE
    assert "not judged (busy)" in rows["relative_step_cost"].reason


@pytest.mark.parametrize("runtime", [2.0, 2.5])
def test_a_view_alone_keeps_its_verdict(runtime):
    # no relative timing: the absolute one is judged on its own evidence
    only_absolute = Result("quant", {}, {"load_s": cost(runtime, "s", kind="time")})
    only_absolute.metrics["load_s"].samples = [runtime] * N
    seen = verdicts(only_absolute, {"load_s": Reference(1.0, (1.0,) * N)})
    assert seen["load_s"] is Verdict.REGRESSED


def _rows(result: Result, baseline: dict[str, Reference]):
    return {r.name: r for r in compare_result(result, None, baseline, Context())}


def test_the_other_views_move_can_come_from_a_better_estimate_than_the_values_ratio():
    # `llmbench ab` passes its paired estimates: the values (the sides' medians) say the
    # absolute timing did not move, the paired rounds say it fell 40 %: the gain stands
    from llmbench.regression.views import reconcile

    result, baseline = timings(1.0, 2.5), refs(1.0, 5.0)
    rows = _rows(result, baseline)
    assert rows["relative_step_cost"].verdict is Verdict.WITHIN_NOISE  # the values' ratio
    rows = list(_rows(result, baseline).values())
    for row in rows:  # as compare_metric left them, before the views were weighed
        if row.name == "relative_step_cost":
            row.verdict, row.reason = Verdict.IMPROVED, ""
    log_ratios = {"runtime_s": -0.51, "relative_step_cost": -0.69}
    reconcile(rows, result.metrics, moved=lambda row: log_ratios.get(row.name))
    assert {r.name: r.verdict for r in rows}["relative_step_cost"] is Verdict.IMPROVED
    # and the other way round: the values' ratio says it moved, the estimate says it did not
    for row in rows:
        if row.name == "relative_step_cost":
            row.verdict, row.reason = Verdict.IMPROVED, ""
    reconcile(rows, result.metrics, moved=lambda row: {"runtime_s": 0.0}.get(row.name))
    relative = {r.name: r for r in rows}["relative_step_cost"]
    assert relative.verdict is Verdict.WITHIN_NOISE
