"""Rules that turn (result, baseline) into per-metric verdicts and one overall verdict.

How a metric is compared depends on its ``Determinism``:

* FIXED metrics (and SEEDED ones measured on the same platform with the same seeds) must agree
  near-exactly: a different value is a real change, there is no noise to forgive.
* everything else compares its median with the baseline's: the change must exceed the tolerance
  (calibrated from measured spread when the baseline has one, else the declared one) AND be
  statistically significant given both sides' samples. With a single sample on either side the
  tolerance decides alone, and the row says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from llmbench.regression.results import Determinism, Direction, Metric, Scope, json_number
from llmbench.regression.stats import (
    DEFAULT_ALPHA,
    NEAR_EXACT_ABS,
    NEAR_EXACT_REL,
    shift_is_significant,
)


class Verdict(str, Enum):
    PASS = "pass"
    IMPROVED = "improved"  # beyond tolerance in the good direction: suggest --update-baselines
    REGRESSED = "regressed"  # beyond tolerance in the bad direction (or any change for EXACT)
    INVALID = "invalid"  # NaN or inf: always a failure
    MISSING = "missing"  # in the baseline, absent from the result
    NEW = "new"  # in the result, absent from the baseline
    NOT_COMPARED = "not compared"  # cost metric without a baseline from this hardware
    RECORDED = "recorded"  # informational metric (compare=False)
    WITHIN_NOISE = "within noise"  # beyond tolerance but not statistically significant
    NONDETERMINISTIC = "nondeterministic"  # repeats of a FIXED / SEEDED metric disagreed

    @property
    def fails(self) -> bool:
        return self in (Verdict.REGRESSED, Verdict.INVALID, Verdict.MISSING,
                        Verdict.NONDETERMINISTIC)


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
    # How the verdict was reached: "exact", "near-exact", "tolerance only (1 sample)",
    # "Mann-Whitney p=0.003", ...; and where ``allowed`` came from.
    test: str = ""
    tolerance: str = ""
    p_value: float | None = None
    n_current: int = 1
    n_baseline: int = 1

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
            "current": json_number(self.current),
            "baseline": self.baseline,
            "change": json_number(self.change),
            "allowed": self.allowed,
            "unit": self.unit,
            "test": self.test,
            "tolerance": self.tolerance,
            "p_value": self.p_value,
            "n_current": self.n_current,
            "n_baseline": self.n_baseline,
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


NEAR_EXACT = "near-exact"  # MetricComparison.tolerance of a FIXED / same-platform SEEDED metric


@dataclass(frozen=True)
class Reference:
    """One metric of a baseline entry: its value, its samples and a calibrated tolerance."""

    value: float
    samples: tuple[float, ...] = ()
    # From --calibrate: {"rel_tol", "rel_tol_tested", "sigma", "sessions", "spread", ...}
    tolerance: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, baseline: float | Reference) -> Reference:
        return baseline if isinstance(baseline, Reference) else cls(float(baseline))

    @property
    def sample_values(self) -> list[float]:
        return list(self.samples) or [self.value]


@dataclass(frozen=True)
class Context:
    """What the comparison needs to know about where both sides were measured."""

    same_platform: bool = False  # same hardware key, packages and thread count
    same_seeds: bool = True
    alpha: float = DEFAULT_ALPHA


def allowed_change(current: Metric, ref: Reference, exact: bool) -> tuple[float, str]:
    """How far the value may move, and where that allowance comes from."""
    if exact:
        return max(NEAR_EXACT_REL * abs(ref.value), NEAR_EXACT_ABS), NEAR_EXACT
    if ref.tolerance is None:
        return current.allowed_change(ref.value), "declared"
    # A significance test can back the tolerance only with samples on both sides.
    tested = min(len(ref.sample_values), len(current.sample_values)) > 1 \
        and "rel_tol_tested" in ref.tolerance
    rel_tol = ref.tolerance["rel_tol_tested" if tested else "rel_tol"]
    sigmas = ref.tolerance.get("tested_sigmas" if tested else "sigmas", "?")
    return (float(rel_tol) * abs(ref.value),
            f"calibrated {sigmas}σ (σ={ref.tolerance.get('sigma', 0):.2%}, "
            f"{ref.tolerance.get('sessions', 1)} session(s))")


def compare_metric(name: str, current: Metric, baseline: float | Reference,
                   context: Context = Context()) -> MetricComparison:
    ref = Reference.of(baseline)
    row = MetricComparison(name, Verdict.PASS, current.value, ref.value, unit=current.unit,
                           n_current=len(current.sample_values), n_baseline=len(ref.sample_values))
    if not current.compare:
        row.verdict = Verdict.RECORDED
        return row
    if not current.is_finite:
        row.verdict = Verdict.INVALID
        return row
    exact = current.determinism is Determinism.FIXED or (
        current.determinism is Determinism.SEEDED and context.same_platform
        and context.same_seeds)
    if exact:
        row.test = ("exact" if current.determinism is Determinism.FIXED
                    else "near-exact (same platform and seeds)")
    row.allowed, row.tolerance = allowed_change(current, ref, exact)

    delta = current.value - ref.value
    # How much worse: a signed change for LOWER / HIGHER, any change for EXACT.
    if current.direction is Direction.EXACT:
        worse = abs(delta)
    else:
        worse = delta if current.direction is Direction.LOWER else -delta
    if abs(worse) <= row.allowed:
        return row
    verdict = Verdict.REGRESSED if worse > 0 else Verdict.IMPROVED
    if exact:
        row.verdict = verdict
        return row
    significance = shift_is_significant(ref.sample_values, current.sample_values,
                                        higher=delta > 0, alpha=context.alpha)
    if significance is None:
        row.test = "tolerance only (1 sample)"
        row.verdict = verdict
        return row
    row.test = significance.describe()
    row.p_value = significance.p_value
    row.verdict = verdict if significance.significant else Verdict.WITHIN_NOISE
    return row


def compare_metrics(current: dict[str, Metric],
                    quality_baseline: Mapping[str, float | Reference] | None,
                    cost_baseline: Mapping[str, float | Reference] | None,
                    context: Context = Context(),
                    nondeterministic: Collection[str] = ()) -> Comparison:
    """Compare a result's metrics with baseline values.

    ``quality_baseline`` holds the values of the same device class, ``cost_baseline`` those of
    the same hardware key (``None`` when this hardware has none). ``nondeterministic`` names
    metrics whose repeats disagreed although they should not: they fail whatever the baseline.
    """
    comparison = Comparison()
    for name, metric in sorted(current.items()):
        if name in nondeterministic:
            comparison.rows.append(MetricComparison(
                name, Verdict.NONDETERMINISTIC, metric.value, None, unit=metric.unit,
                test=f"{metric.determinism.value} metric varied across repeats: "
                     f"{sorted(set(metric.sample_values))}",
                n_current=len(metric.sample_values)))
            continue
        source = quality_baseline if metric.scope is Scope.QUALITY else cost_baseline
        if not metric.is_finite and metric.compare:
            comparison.rows.append(
                MetricComparison(name, Verdict.INVALID, metric.value, None, unit=metric.unit))
        elif source is None:
            verdict = Verdict.RECORDED if not metric.compare else (
                Verdict.NOT_COMPARED if metric.scope is Scope.COST else Verdict.NEW)
            comparison.rows.append(MetricComparison(name, verdict, metric.value, None,
                                                    unit=metric.unit,
                                                    n_current=len(metric.sample_values)))
        elif name not in source:
            verdict = Verdict.NEW if metric.compare else Verdict.RECORDED
            comparison.rows.append(MetricComparison(name, verdict, metric.value, None,
                                                    unit=metric.unit,
                                                    n_current=len(metric.sample_values)))
        else:
            comparison.rows.append(compare_metric(name, metric, source[name], context))
    for source in (quality_baseline, cost_baseline):
        for name in sorted(set(source or {}) - set(current)):
            comparison.rows.append(MetricComparison(name, Verdict.MISSING, None,
                                                    Reference.of(source[name]).value))
    return comparison
