"""One rule that turns (metric, baseline) into a verdict. The plugin, ``llmbench compare`` and the
noise study all call ``compare_metric``; nothing else in the project judges a change.

How a metric is compared depends on its ``Determinism``:

* FIXED metrics (and SEEDED ones measured on the same platform with the same seeds) must agree
  near-exactly: a different value is a real change, there is no noise to forgive.
* everything else: a change within the declared tolerance passes. Beyond it, the verdict needs
  evidence: the shift of the medians must be significant given the samples on both sides and
  the metric's noise (``stats.shift_test``). Significant -> regressed / improved; suggestive
  (p <= 0.1) and worse -> unconfirmed (visible, not failing); otherwise within noise.
* a noisy quality metric that both sides scored item by item (a RAG configuration's questions,
  ``Metric.items``; noisy: a remote model, or other seeds) is judged the same way on the
  items' differences instead (``paired.paired_test``): one run carries its own noise estimate.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from llmbench.regression.paired import MIN_PAIRED_ITEMS, PairedTest, paired_test, shared_items
from llmbench.regression.results import Determinism, Direction, Metric, Result, Scope, json_number
from llmbench.regression.stats import (
    DEFAULT_ALPHA,
    NEAR_EXACT_ABS,
    NEAR_EXACT_REL,
    SUGGESTIVE_P,
    near_equal,
    noise_applies,
    noise_model,
    shift_test,
)
from llmbench.regression.tolerances import SPEED_KINDS, Tolerance, tolerance
from llmbench.regression.verdicts import Verdict
from llmbench.regression.views import reconcile

NEAR_EXACT = "near-exact"  # MetricComparison.tolerance of a FIXED / same-platform SEEDED metric


@dataclass
class MetricComparison:
    name: str
    verdict: Verdict
    current: float | None
    baseline: float | None
    allowed: float | None = None
    unit: str = ""
    # How the verdict was reached ("exact", "z=+4.1 p=2e-05 (...)") and where ``allowed`` came
    # from ("declared", "near-exact"); ``reason`` for unavailable / busy / not compared rows.
    test: str = ""
    tolerance: str = ""
    p_value: float | None = None
    n_current: int = 1
    n_baseline: int = 1
    reason: str = ""

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

    def to_dict(self) -> dict[str, Any]:
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
            **({"reason": self.reason} if self.reason else {}),
        }


@dataclass(frozen=True)
class Reference:
    """One metric of a baseline entry: its value, its samples and its calibrated noise."""

    value: float
    samples: tuple[float, ...] = ()
    # From --calibrate: {"within_cv", "between_cv", "sessions", "session_medians", ...}
    noise: Mapping[str, Any] | None = None
    items: Mapping[str, float] | None = None  # each item's score (Metric.items)

    @classmethod
    def of(cls, baseline: float | Reference) -> Reference:
        return baseline if isinstance(baseline, Reference) else cls(float(baseline))

    @property
    def sample_values(self) -> list[float]:
        return list(self.samples) or [self.value]

    def pooled_sessions(self) -> list[float]:
        """The medians of the calibrated sessions behind this value, when it is the last of them
        (written by the same ``--calibrate`` run) and there are two or more: their mean is a
        steadier centre than one session's median. [] when re-recorded since, or uncalibrated."""
        medians = [float(m) for m in (self.noise or {}).get("session_medians") or ()]
        if len(medians) < 2 or not near_equal(medians[-1], self.value):
            return []
        return medians


@dataclass(frozen=True)
class Context:
    """What the comparison needs to know about where both sides were measured."""

    same_platform: bool = False  # same hardware key, packages and thread count
    same_seeds: bool = True
    alpha: float = DEFAULT_ALPHA
    device_class: str = "cpu"
    # How far the machine's speed was from the baseline's, as the speed probe measured it
    # (0.12: 12 % slower or faster). Added to the drift of timings between sessions.
    machine_drift: float = 0.0
    # Where this run measured: calibrated noise from another CPU does not apply here.
    cpu_signature: str | None = None


def declared_noise(metric: Metric, device_class: str) -> Tolerance:
    return tolerance(metric.kind, device_class) if metric.kind else Tolerance()


def compare_metric(name: str, current: Metric, baseline: float | Reference,
                   context: Context = Context()) -> MetricComparison:
    ref = Reference.of(baseline)
    row = MetricComparison(name, Verdict.PASS, current.value, ref.value, unit=current.unit,
                           n_current=len(current.sample_values), n_baseline=len(ref.sample_values))
    if not current.compare:
        row.verdict = Verdict.RECORDED
        return row
    if not current.is_finite:
        row.verdict = Verdict.FAILED
        row.reason = f"value is {current.value}"
        return row
    exact = current.determinism is Determinism.FIXED or (
        current.determinism is Determinism.SEEDED and context.same_platform
        and context.same_seeds)
    calibrated = None
    sessions: list[float] = []
    centre = ref.value
    if exact:
        row.allowed = max(NEAR_EXACT_REL * abs(ref.value), NEAR_EXACT_ABS)
        row.tolerance = NEAR_EXACT
        row.test = ("exact" if current.determinism is Determinism.FIXED
                    else "near-exact (same platform and seeds)")
    else:
        if ref.noise and noise_applies(ref.noise, context.cpu_signature):
            calibrated = ref.noise
            sessions = ref.pooled_sessions()
        if sessions:
            centre = row.baseline = statistics.fmean(sessions)
        row.allowed = current.allowed_change(centre)
        row.tolerance = "declared"

    paired = None if exact else _paired(current, ref, context)
    delta = current.value - centre if paired is None else paired.mean
    if current.direction is Direction.EXACT:
        worse = abs(delta)
    else:
        worse = delta if current.direction is Direction.LOWER else -delta
    if abs(worse) <= row.allowed:
        return row
    if exact:
        row.verdict = Verdict.REGRESSED if worse > 0 else Verdict.IMPROVED
        return row
    if paired is not None:
        row.test, row.p_value = paired.describe(current.unit), paired.p_value
        return _significance(row, worse, paired.p_value, context)

    declared = declared_noise(current, context.device_class)
    noise = noise_model(ref.sample_values, current.sample_values,
                        declared_within=declared.within_cv, declared_between=declared.between_cv,
                        spike=declared.spike_in(current.unit), calibrated=calibrated,
                        pooled_sessions=len(sessions) or 1)
    if ref.noise and calibrated is None:
        noise = replace(noise, source=f"{noise.source}; calibration from another CPU ignored")
    if current.kind in SPEED_KINDS and context.machine_drift > noise.between_cv:
        noise = replace(noise, between_cv=context.machine_drift,
                        source=f"{noise.source}; drift from the machine's speed, probed")
    worse_is_higher = (current.direction is Direction.LOWER
                       or (current.direction is Direction.EXACT and delta > 0))
    test = shift_test(ref.sample_values, current.sample_values,
                      worse_is_higher=worse_is_higher, noise=noise, centre=centre)
    row.test = test.describe(current.unit)
    row.p_value = test.p_value
    return _significance(row, worse, test.p_value, context)


def _significance(row: MetricComparison, worse: float, p_value: float,
                  context: Context) -> MetricComparison:
    if p_value <= context.alpha:
        row.verdict = Verdict.REGRESSED if worse > 0 else Verdict.IMPROVED
    elif worse > 0 and p_value <= SUGGESTIVE_P:
        row.verdict = Verdict.UNCONFIRMED
    else:
        row.verdict = Verdict.WITHIN_NOISE
    return row


def _paired(current: Metric, ref: Reference, context: Context) -> PairedTest | None:
    """The per-item test of a noisy quality metric that both sides scored item by item."""
    noisy = current.determinism is Determinism.NOISY or not context.same_seeds
    if (current.scope is not Scope.QUALITY or not noisy or not current.items or not ref.items
            or len(shared_items(ref.items, current.items)) < MIN_PAIRED_ITEMS):
        return None
    return paired_test(ref.items, current.items)


def compare_result(result: Result, quality_baseline: Mapping[str, float | Reference] | None,
                   cost_baseline: Mapping[str, float | Reference] | None,
                   context: Context = Context(), *, cost_skipped: str = "") -> list[MetricComparison]:
    """Every metric of ``result`` against the baseline's values, plus a row for each baseline
    metric the result lacks.

    ``quality_baseline`` holds the values of the same device class, ``cost_baseline`` those of
    the same hardware key (None: none for this hardware, ``cost_skipped`` says why).
    """
    rows: list[MetricComparison] = []
    for name, metric in sorted(result.metrics.items()):
        n = len(metric.sample_values)
        source = quality_baseline if metric.scope is Scope.QUALITY else cost_baseline
        if name in result.nondeterministic:
            rows.append(MetricComparison(
                name, Verdict.NONDETERMINISTIC, metric.value, None, unit=metric.unit,
                test=f"{metric.determinism.value} metric varied across repeats",
                reason=f"values {sorted(set(result.nondeterministic[name]))}", n_current=n))
        elif not metric.compare:
            rows.append(MetricComparison(name, Verdict.RECORDED, metric.value, None,
                                         unit=metric.unit, n_current=n))
        elif not metric.is_finite:
            rows.append(MetricComparison(name, Verdict.FAILED, metric.value, None,
                                         unit=metric.unit, reason=f"value is {metric.value}",
                                         n_current=n))
        elif result.unjudged(metric):
            rows.append(MetricComparison(name, Verdict.BUSY, metric.value,
                                         _value(source, name), unit=metric.unit,
                                         reason=result.busy, n_current=n))
        elif source is None:
            verdict = Verdict.NOT_COMPARED if metric.scope is Scope.COST else Verdict.NEW
            rows.append(MetricComparison(name, verdict, metric.value, None, unit=metric.unit,
                                         reason=cost_skipped if metric.scope is Scope.COST
                                         else "", n_current=n))
        elif name not in source:
            rows.append(MetricComparison(name, Verdict.NEW, metric.value, None, unit=metric.unit,
                                         n_current=n))
        else:
            rows.append(compare_metric(name, metric, source[name], context))
    baseline_names: dict[str, float | Reference] = {**(cost_baseline or {}),
                                                    **(quality_baseline or {})}
    for name in sorted(set(baseline_names) - set(result.metrics)):
        reason = result.unavailable.get(name)
        rows.append(MetricComparison(
            name, Verdict.UNAVAILABLE if reason else Verdict.MISSING, None,
            Reference.of(baseline_names[name]).value, reason=reason or ""))
    for name in sorted(set(result.unavailable) - set(result.metrics) - set(baseline_names)):
        rows.append(MetricComparison(name, Verdict.UNAVAILABLE, None, None,
                                     reason=result.unavailable[name]))
    reconcile(rows, result.metrics)
    return rows


def _value(source: Mapping[str, float | Reference] | None, name: str) -> float | None:
    if not source or name not in source:
        return None
    return Reference.of(source[name]).value


@dataclass
class Comparison:
    """Rows of one result (kept for callers that compare metric dictionaries directly)."""

    rows: list[MetricComparison] = field(default_factory=list)

    def moved(self) -> list[MetricComparison]:
        """Rows worth showing a human: anything that is not a plain pass."""
        quiet = (Verdict.PASS, Verdict.RECORDED, Verdict.NOT_COMPARED)
        return [row for row in self.rows if row.verdict not in quiet]
