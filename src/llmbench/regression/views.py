"""Two views of one benchmark's speed must agree before a verdict calls it faster.

A benchmark may time its work two ways: absolutely (kinds ``time`` and ``throughput``: what a
user waits for, moved by the machine's speed too) and relative to a reference workload timed
beside it (kind ``relative_time``: the machine's speed cancels, and so does anything that slows
the reference as much). Each is judged on its own noise by ``compare.compare_metric``; then:

* "regressed" on either view stands: each is evidence that the code got slower (the absolute
  one on a calm machine at the baseline's speed, the relative one at the same moment as its
  reference).
* "improved" on one view stands only when the other view, where it was judged, moved the same
  way by at least half as much (in log terms; it need not be significant on its own noise: the
  absolute timings' drift between sessions is too wide for that). Otherwise it is "within
  noise", with the reason: an absolute gain the relative view does not share is a faster
  machine; a relative gain the absolute timings do not share is a slower reference.
* A view that improved while the other regressed is "conflicting": shown with what it means
  (the reference slowed more than the step, or the machine sped up more than the code slowed),
  never counted as an improvement, and never hiding the other view's regression.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from llmbench.regression.results import Direction, Metric, Scope
from llmbench.regression.tolerances import SPEED_KINDS
from llmbench.regression.verdicts import Verdict

if TYPE_CHECKING:
    from llmbench.regression.compare import MetricComparison


_WHERE = {"relative": "relative to the reference", "absolute": "in absolute time"}


def _view(metric: Metric | None) -> str | None:
    if metric is None or metric.scope is not Scope.COST:
        return None
    if metric.machine_relative:
        return "relative"
    return "absolute" if metric.kind in SPEED_KINDS else None


def reconcile(rows: Sequence[MetricComparison], metrics: Mapping[str, Metric],
              moved: Callable[[MetricComparison], float | None] | None = None) -> None:
    """Apply the rules above to ``rows`` (``MetricComparison``s of one benchmark) in place.

    ``moved``: a row's change as a log ratio of current to baseline, where a better estimate
    than the ratio of the two values exists (``llmbench ab``: the paired estimate of the
    rounds' ratios); None for a row falls back to the values' ratio."""

    def gain(row: MetricComparison) -> float:
        return _gain(row, metrics, moved(row) if moved else None)

    views: dict[str, list[MetricComparison]] = {"absolute": [], "relative": []}
    for row in rows:
        view = _view(metrics.get(row.name))
        if view:
            views[view].append(row)
    before = {id(row): row.verdict for row in rows}  # judge each view by the other's own verdicts
    for view, other in (("absolute", "relative"), ("relative", "absolute")):
        others = views[other]
        regressed = [r for r in others if before[id(r)] is Verdict.REGRESSED]
        judged = [r for r in others if before[id(r)].compared]
        busy = [r for r in others if before[id(r)] is Verdict.BUSY]
        for row in views[view]:
            if row.verdict is not Verdict.IMPROVED:
                continue
            if regressed:
                row.verdict, row.reason = Verdict.CONFLICTING, _conflict(view, regressed[0])
            elif judged:
                best = max(judged, key=gain)
                if gain(best) < gain(row) / 2:
                    row.verdict, row.reason = Verdict.WITHIN_NOISE, _unconfirmed(view, best)
            elif busy:
                row.verdict = Verdict.WITHIN_NOISE
                row.reason = (f"improved only {_WHERE[view]}; the other view of its speed was "
                              "not judged (busy), so nothing confirms it")


def _gain(row: MetricComparison, metrics: Mapping[str, Metric],
          log_ratio: float | None = None) -> float:
    """How much better the current value is, as a log ratio (2x faster: log 2 for a time and
    for a throughput alike); 0 when it cannot be told. ``log_ratio``: the change, when known
    better than from the two values."""
    if log_ratio is None:
        if not row.current or not row.baseline or row.current * row.baseline <= 0:
            return 0.0
        log_ratio = math.log(row.current / row.baseline)
    return log_ratio if metrics[row.name].direction is Direction.HIGHER else -log_ratio


def _conflict(view: str, regressed: MetricComparison) -> str:
    change = regressed.relative_change
    moved = f"{regressed.name} regressed" + (f" {change:+.0%}" if change is not None else "")
    if view == "relative":
        return (f"faster relative to the reference while {moved}: the reference step slowed "
                "more than the measured one (the machine, the interpreter or a library both use "
                "slowed it); not an improvement")
    return (f"faster in absolute time while {moved}: the machine sped up more than the code "
            "slowed down; not an improvement")


def _unconfirmed(view: str, other: MetricComparison) -> str:
    moved = (f"{other.name} moved {other.relative_change:+.0%}" if other.relative_change
             is not None else f"{other.name} did not move")
    if view == "relative":
        return (f"improved only {_WHERE[view]}; the absolute timings did not follow "
                f"({moved}), so the reference may have slowed")
    return (f"improved only {_WHERE[view]}; relative to the reference timed beside it "
            f"it did not ({moved}), so the machine may have run faster")
