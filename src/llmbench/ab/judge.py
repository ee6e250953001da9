"""A benchmark's rounds of both sides as verdicts, in the words the plugin uses.

* Metrics that must reproduce (``fixed``; ``seeded`` ones on the same platform) are judged as
  the plugin judges them against a baseline, with A as the baseline
  (``regression.compare.compare_metric``): near-exact on the same platform, the declared
  tolerance elsewhere (two environments). Their rounds must also agree within each side
  (``nondeterministic`` otherwise, as for repeats).
* Noisy metrics are judged on their paired rounds (``paired``), against the minimum effect
  (``--min-effect``, and a metric kind's absolute floor where it has one, e.g. 16 MB of RSS):
  - **regressed**: the interval lies wholly on the worse side of 0 and the estimate is worse
    by at least the minimum effect (the plugin's rule: beyond tolerance, and significant);
  - **improved**: the same on the better side;
  - **pass**, *decided*: the 90 % interval lies within the minimum effect either way (an
    equivalence test), so more rounds would not change it;
  - otherwise undecided, and if the rounds end here: pass when the estimate is within the
    minimum effect, **unconfirmed** when it is worse beyond it and suggestive (p <= 0.1),
    **within noise** otherwise.
  Rounds on a busy machine are judged: other work that slows both sides of a pair alike
  cancels in its ratio, which is the point of pairing. A round that other work starved
  *unevenly* (it kept one side waiting for a CPU longer than the other, by more than
  ``UNEVEN_STARVATION`` of the round) is left out of the costs: its ratio measures the
  neighbour. A side that is slower because it waits by itself (I/O, a lock, a sleep) is not
  starved: that is a regression like any other.
* ``regression.views`` then weighs absolute against relative timings, as in the plugin.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llmbench.ab.paired import DIFFERENCE, PairedChange, paired_change
from llmbench.measure.machine import BUSY_MIN_WALL_S
from llmbench.regression.compare import Context, MetricComparison, Reference, compare_metric
from llmbench.regression.decide import changed_params, describe_changes
from llmbench.regression.environment import same_platform
from llmbench.regression.repeats import SeedPolicy, merge_repeats
from llmbench.regression.results import Determinism, Direction, Metric, Result, Scope
from llmbench.regression.stats import DEFAULT_ALPHA, SUGGESTIVE_P
from llmbench.regression.tolerances import MACHINE_RELATIVE_KINDS, SPEED_KINDS
from llmbench.regression.verdicts import Outcome, Verdict, outcome_of
from llmbench.regression.views import reconcile

DEFAULT_MIN_EFFECT = 0.03  # docs/ab-study: A = B estimates stayed within +-3 % on the 2-core VM
# A pair's costs are left out when the shares of their rounds the two sides spent waiting for
# a CPU held by other work differ by more than this (provisional, like the minimum effect).
UNEVEN_STARVATION = 0.10


@dataclass(frozen=True)
class Policy:
    min_effect: float = DEFAULT_MIN_EFFECT
    alpha: float = DEFAULT_ALPHA


@dataclass
class AbRow:
    """One metric: the plugin's comparison row (A as the baseline), and for a noisy metric
    its paired change and whether more rounds could still change the verdict."""

    comparison: MetricComparison
    paired: PairedChange | None = None
    decided: bool = True

    @property
    def name(self) -> str:
        return self.comparison.name

    @property
    def verdict(self) -> Verdict:
        return self.comparison.verdict

    def b_vs_a(self) -> str:
        """``B vs A: +4.1 % [+1.2 %, +7.3 %]``, or the plain change of an exact metric."""
        if self.paired is not None:
            return f"B vs A: {self.paired.describe()}"
        change = self.comparison.relative_change
        if change is None:
            return ""
        return f"B vs A: {change:+.2%}" if change else "B vs A: ="

    def to_dict(self) -> dict[str, Any]:
        data = {**self.comparison.to_dict(), "b_vs_a": self.b_vs_a(), "decided": self.decided}
        if self.paired is not None:
            p = self.paired
            data["paired"] = {
                "rounds": p.n, "scale": p.scale, "estimate": p.relative(p.centre.estimate),
                "low": _relative(p, p.centre.low), "high": _relative(p, p.centre.high),
                "equivalence_low": _relative(p, p.equivalence.low),
                "equivalence_high": _relative(p, p.equivalence.high),
                "p_higher": p.p_higher, "p_lower": p.p_lower}
        return data


@dataclass
class Judgement:
    outcome: Outcome
    rows: list[AbRow]
    a: Result  # each side's rounds merged: values are medians, samples the rounds
    b: Result
    notes: list[str] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        return all(row.decided for row in self.rows)

    def undecided(self) -> list[AbRow]:
        return [row for row in self.rows if not row.decided]


def merge_rounds(rounds: Sequence[Result]) -> Result:
    """One side's rounds as one result, every round a sample (in round order, so both sides'
    samples pair up): busy rounds included, since the pairs, not the sides, are judged."""
    seeds = [r.repeats.get("seed", 0) for r in rounds]
    return merge_repeats([replace(r, busy=None, contended=False) for r in rounds], seeds,
                         SeedPolicy.SAME)


def judge_rounds(rounds_a: Sequence[Result], rounds_b: Sequence[Result],
                 env_a: dict[str, Any] | None, env_b: dict[str, Any] | None,
                 policy: Policy = Policy()) -> Judgement:
    """Rounds ``i`` of both lists were measured as a pair."""
    a, b = merge_rounds(rounds_a), merge_rounds(rounds_b)
    device = str((env_b or env_a or {}).get("device_class", "cpu"))
    context = Context(same_platform=same_platform(env_a, env_b), same_seeds=True,
                      alpha=policy.alpha, device_class="cuda" if device.startswith("cuda")
                      else "cpu")
    rows = [_row(name, a, b, rounds_a, rounds_b, context, policy)
            for name in sorted(set(a.metrics) | set(b.metrics) | set(b.unavailable))]
    # the views' gains from the paired estimates, as every A/B verdict is; the medians' ratio
    # mixes in the rounds' spread
    paired = {id(row.comparison): row.paired for row in rows if row.paired is not None}
    reconcile([row.comparison for row in rows], b.metrics,
              moved=lambda comparison: _log_ratio(paired.get(id(comparison))))
    notes = []
    pairs = list(zip(rounds_a, rounds_b))
    uneven = sum(unevenly_starved(ra, rb) for ra, rb in pairs)
    busy = sum(bool(ra.busy or rb.busy) for ra, rb in pairs) - uneven
    if uneven:
        notes.append(f"{uneven} of {len(pairs)} rounds: other work starved one side more than "
                     f"the other (by over {UNEVEN_STARVATION:.0%} of the round): their costs "
                     "were left out")
    if busy > 0:
        notes.append(f"{busy} of {len(pairs)} rounds ran on a busy machine that starved both "
                     "sides alike: judged (their ratio cancels it)")
    changes = changed_params(a.params, b.params)
    if changes:
        notes.append(f"the benchmark's params differ: {describe_changes(changes)}")
    return Judgement(outcome_of([row.verdict for row in rows]), rows, a, b, notes)


def _row(name: str, a: Result, b: Result, rounds_a: Sequence[Result],
         rounds_b: Sequence[Result], context: Context, policy: Policy) -> AbRow:
    metric_a, metric_b = a.metrics.get(name), b.metrics.get(name)
    if metric_b is None:
        reason = b.unavailable.get(name, "")
        return AbRow(MetricComparison(name, Verdict.UNAVAILABLE if reason else Verdict.MISSING,
                                      None, _value(metric_a), reason=reason))
    unit = metric_b.unit
    if metric_a is None:
        return AbRow(MetricComparison(name, Verdict.NEW, metric_b.value, None, unit=unit,
                                      reason="only side B has it"))
    for side, merged in (("A", a), ("B", b)):
        if name in merged.nondeterministic:
            return AbRow(MetricComparison(
                name, Verdict.NONDETERMINISTIC, metric_b.value, metric_a.value, unit=unit,
                test=f"{metric_b.determinism.value} metric varied across side {side}'s rounds",
                reason=f"values {sorted(set(merged.nondeterministic[name]))}"))
    if not metric_b.compare:
        return AbRow(MetricComparison(name, Verdict.RECORDED, metric_b.value, metric_a.value,
                                      unit=unit))
    for side, metric in (("A", metric_a), ("B", metric_b)):
        if not metric.is_finite:
            return AbRow(MetricComparison(name, Verdict.FAILED, metric_b.value, metric_a.value,
                                          unit=unit, reason=f"side {side}: value is "
                                                            f"{metric.value}"))
    if metric_b.determinism is not Determinism.NOISY:
        reference = Reference(metric_a.value, tuple(metric_a.sample_values))
        return AbRow(compare_metric(name, metric_b, reference, context))
    return _paired_row(name, metric_a, metric_b, rounds_a, rounds_b, policy)


def _paired_row(name: str, metric_a: Metric, metric_b: Metric, rounds_a: Sequence[Result],
                rounds_b: Sequence[Result], policy: Policy) -> AbRow:
    pairs = [(ra.metrics[name].value, rb.metrics[name].value)
             for ra, rb in zip(rounds_a, rounds_b)
             if name in ra.metrics and name in rb.metrics
             and not (metric_b.scope is Scope.COST and unevenly_starved(ra, rb))]
    # A and B as the medians of the rounds judged (the pairs left in)
    row = MetricComparison(name, Verdict.PASS, _median([p[1] for p in pairs], metric_b.value),
                           _median([p[0] for p in pairs], metric_a.value), unit=metric_b.unit,
                           n_current=len(pairs), n_baseline=len(pairs))
    if not pairs:
        row.verdict = Verdict.BUSY
        row.reason = "other work starved one side more than the other in every round"
        return AbRow(row, decided=False)
    change = paired_change([p[0] for p in pairs], [p[1] for p in pairs], policy.alpha)
    effect = _min_effect(metric_b, change, policy)
    threshold = change.threshold(effect) if change.scale != DIFFERENCE else effect
    row.allowed = effect * change.reference if change.scale != DIFFERENCE else effect
    row.tolerance = (f"minimum effect {effect:.1%}" if change.scale != DIFFERENCE
                     else f"minimum effect {effect:g} {metric_b.unit}".rstrip())
    row.test = f"paired over {change.n} rounds (Wilcoxon): B vs A {change.describe()}"
    row.verdict, decided = verdict_of(change, metric_b.direction, threshold)
    row.p_value = _worse_side(metric_b.direction, change)[1]
    return AbRow(row, change, decided)


def verdict_of(change: PairedChange, direction: Direction, threshold: float
               ) -> tuple[Verdict, bool]:
    """The rules of the module docstring: a paired change's verdict against ``threshold`` (on
    the change's scale), and whether more rounds could still change it."""
    worse, p_worse = _worse_side(direction, change)
    estimate = worse(change.centre.estimate)
    low, high = sorted(worse(v) for v in (change.centre.low, change.centre.high))
    eq_low, eq_high = sorted(worse(v) for v in (change.equivalence.low, change.equivalence.high))
    if low > 0 and estimate >= threshold:
        return Verdict.REGRESSED, True
    if high < 0 and estimate <= -threshold:
        return Verdict.IMPROVED, True
    if -threshold < eq_low and eq_high < threshold:
        return Verdict.PASS, True
    if abs(estimate) < threshold:
        return Verdict.PASS, False
    if estimate > 0 and p_worse <= SUGGESTIVE_P:
        return Verdict.UNCONFIRMED, False
    return Verdict.WITHIN_NOISE, False


def unevenly_starved(a: Result, b: Result) -> bool:
    """Did other work keep one side of this pair waiting for a CPU noticeably longer than the
    other (``measure.machine``'s run-queue time, as a share of the round)? Without scheduler
    statistics, the rounds' busy verdicts stand in: one busy side and one calm side."""
    shares = [_starved_share(r) for r in (a, b)]
    if None in shares:
        return bool(a.busy) != bool(b.busy)
    return abs(shares[0] - shares[1]) > UNEVEN_STARVATION  # type: ignore[operator]


def _starved_share(result: Result) -> float | None:
    wall, waited = result.machine.get("wall_s"), result.machine.get("runqueue_s")
    if not wall or waited is None or wall < BUSY_MIN_WALL_S:  # shorter: scheduler-tick noise
        return None
    return float(waited) / float(wall)


def _worse_side(direction: Direction, change: PairedChange):
    """A function that turns a paired change into "how much worse" (> 0: B worse), and the
    one-sided p-value for B being worse."""
    if direction is Direction.HIGHER:
        return (lambda v: -v), change.p_lower
    if direction is Direction.EXACT:  # any change is worse: judged by its size
        larger = change.p_higher if change.centre.estimate >= 0 else change.p_lower
        sign = 1.0 if change.centre.estimate >= 0 else -1.0
        return (lambda v: sign * v), larger
    return (lambda v: v), change.p_higher


def _min_effect(metric: Metric, change: PairedChange, policy: Policy) -> float:
    """The relative minimum effect (absolute, for a change of a metric whose A median is 0).
    A kind's absolute floor applies (memory: allocator caching moves RSS by MBs), except for
    timings: their floor is for spikes and drift between sessions, which paired rounds cancel."""
    floor = 0.0 if metric.kind in SPEED_KINDS + MACHINE_RELATIVE_KINDS else metric.abs_tol
    if change.scale == DIFFERENCE:
        return floor
    return max(policy.min_effect, floor / change.reference if change.reference else 0.0)


def _log_ratio(change: PairedChange | None) -> float | None:
    """A paired change's estimate as log(B / A); None where it has none."""
    if change is None:
        return None
    relative = change.relative(change.centre.estimate)
    return math.log1p(relative) if relative > -1 else None


def _median(values: list[float], default: float) -> float:
    return statistics.median(values) if values else default


def _value(metric: Metric | None) -> float | None:
    return None if metric is None else metric.value


def _relative(change: PairedChange, bound: float) -> float | None:
    """A bound as a relative change; None where too few rounds leave it unbounded."""
    return change.relative(bound) if math.isfinite(bound) else None
