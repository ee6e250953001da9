"""Rules that turn (result, baseline) into per-metric verdicts and one overall verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from llmbench.results import Direction, Metric, Scope


class Verdict(str, Enum):
    PASS = "pass"
    IMPROVED = "improved"  # beyond tolerance in the good direction: suggest --update-baselines
    REGRESSED = "regressed"  # beyond tolerance in the bad direction (or any change for EXACT)
    INVALID = "invalid"  # NaN or inf: always a failure
    MISSING = "missing"  # in the baseline, absent from the result
    NEW = "new"  # in the result, absent from the baseline
    NOT_COMPARED = "not compared"  # cost metric without a baseline from this hardware
    RECORDED = "recorded"  # informational metric (compare=False)

    @property
    def fails(self) -> bool:
        return self in (Verdict.REGRESSED, Verdict.INVALID, Verdict.MISSING)


class Outcome(str, Enum):
    PASS = "pass"
    IMPROVED = "improved"
    REGRESSED = "regressed"
    NOT_COMPARABLE = "not comparable"  # the benchmark's params changed since the baseline
    NO_BASELINE = "no baseline"
    UPDATED = "updated"
    ERROR = "error"

    @property
    def fails(self) -> bool:
        return self in (Outcome.REGRESSED, Outcome.NOT_COMPARABLE, Outcome.NO_BASELINE,
                        Outcome.ERROR)


@dataclass
class MetricComparison:
    name: str
    verdict: Verdict
    current: float | None
    baseline: float | None
    allowed: float | None = None
    unit: str = ""

    @property
    def change(self) -> float | None:
        if self.current is None or self.baseline is None:
            return None
        return self.current - self.baseline

    @property
    def relative_change(self) -> float | None:
        if self.change is None or not self.baseline:
            return None
        return self.change / abs(self.baseline)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "current": _json_number(self.current),
            "baseline": self.baseline,
            "change": _json_number(self.change),
            "allowed": self.allowed,
            "unit": self.unit,
        }


@dataclass
class Comparison:
    rows: list[MetricComparison] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        verdicts = {row.verdict for row in self.rows}
        if any(v.fails for v in verdicts):
            return Outcome.REGRESSED
        if Verdict.IMPROVED in verdicts:
            return Outcome.IMPROVED
        return Outcome.PASS

    def moved(self) -> list[MetricComparison]:
        """Rows worth showing a human: anything that is not a plain pass."""
        quiet = (Verdict.PASS, Verdict.RECORDED, Verdict.NOT_COMPARED)
        return [row for row in self.rows if row.verdict not in quiet]


def _json_number(value: float | None):
    if value is None or math.isfinite(value):
        return value
    return repr(value)


def compare_metric(name: str, current: Metric, baseline_value: float) -> MetricComparison:
    row = MetricComparison(name, Verdict.PASS, current.value, baseline_value, unit=current.unit)
    if not current.compare:
        row.verdict = Verdict.RECORDED
        return row
    if not current.is_finite:
        row.verdict = Verdict.INVALID
        return row
    allowed = current.allowed_change(baseline_value)
    row.allowed = allowed
    delta = current.value - baseline_value
    if current.direction is Direction.EXACT:
        row.verdict = Verdict.REGRESSED if abs(delta) > allowed else Verdict.PASS
    else:
        worse = delta if current.direction is Direction.LOWER else -delta
        if worse > allowed:
            row.verdict = Verdict.REGRESSED
        elif -worse > allowed:
            row.verdict = Verdict.IMPROVED
    return row


def compare_metrics(current: dict[str, Metric], quality_baseline: dict[str, float] | None,
                    cost_baseline: dict[str, float] | None) -> Comparison:
    """Compare a result's metrics with baseline values.

    ``quality_baseline`` holds the values of the same device class, ``cost_baseline`` those of
    the same hardware key (``None`` when this hardware has none).
    """
    comparison = Comparison()
    for name, metric in sorted(current.items()):
        source = quality_baseline if metric.scope is Scope.QUALITY else cost_baseline
        if not metric.is_finite and metric.compare:
            comparison.rows.append(
                MetricComparison(name, Verdict.INVALID, metric.value, None, unit=metric.unit))
        elif source is None:
            verdict = Verdict.RECORDED if not metric.compare else (
                Verdict.NOT_COMPARED if metric.scope is Scope.COST else Verdict.NEW)
            comparison.rows.append(MetricComparison(name, verdict, metric.value, None,
                                                    unit=metric.unit))
        elif name not in source:
            verdict = Verdict.NEW if metric.compare else Verdict.RECORDED
            comparison.rows.append(MetricComparison(name, verdict, metric.value, None,
                                                    unit=metric.unit))
        else:
            comparison.rows.append(compare_metric(name, metric, source[name]))
    for source in (quality_baseline, cost_baseline):
        for name in sorted(set(source or {}) - set(current)):
            comparison.rows.append(MetricComparison(name, Verdict.MISSING, None, source[name]))
    return comparison
