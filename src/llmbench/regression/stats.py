"""The statistics behind a verdict: how noisy a metric is, and whether a shift is real.

A noisy metric's run-to-run change has two sources, and a verdict must allow for both:

* ``within_cv``: the spread of one sample (one repeat, one timed round) around its session's
  median, relative to it. Estimated from the samples both sides carry, never below the floor
  declared for the metric's kind (few samples underestimate a spread).
* ``between_cv``: how far a whole session's median drifts from one session to the next on the
  same hardware (another time of day, another process, a neighbour on the host). More repeats do
  not shrink it. ``--calibrate`` measures it from the medians of several sessions (and the
  baseline is then centred on their mean); until then the declared value for the metric's
  kind stands in.

A third source is absolute, and matters only for short timings:

* ``spike``: one sample of a timing can carry a delay of tens of milliseconds whatever its
  length (a scheduler time slice, page faults, a garbage collection). The median of three or
  more samples is not moved by one spike; a median of one sample carries it whole and a median
  of two carries half of it.

The shift test compares medians: under "no change", the relative difference of two medians of
``n_c`` and ``n_b`` samples has variance ``within_cv² · (π/2) · (1/n_c + 1/n_b) + between_cv²
+ (spike / median)² · (s(n_c)² + s(n_b)²)`` (π/2: a median's variance relative to a mean's;
``s(1) = 1``, ``s(2) = 1/2``, ``s(n >= 3) = 0``). Its one-sided p-value decides: ``<= alpha``
is evidence of a shift. It works for any sample size, one sample included: with one sample the
variance is large, so only a large shift is significant (2x is; +20 % usually is not).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

# The default significance level for "regressed". A run compares ~50-100 noisy metrics that
# are strongly correlated (runtime, step time and tokens/s move together); 0.001 keeps a run of
# unchanged code clean while 2x slowdowns stay far beyond it even with one sample.
DEFAULT_ALPHA = 0.001
# A shift beyond tolerance whose p-value is above alpha but at most this is reported as
# "unconfirmed" (visible, not failing); above it, "within noise".
SUGGESTIVE_P = 0.1
MEDIAN_VARIANCE_FACTOR = math.pi / 2
# Sessions of calibration kept: their medians give the between-session drift.
CALIBRATION_SESSIONS = 5
# FIXED and SEEDED metrics on the same platform must agree to this relative precision: float
# reductions may differ in the last bits between processes (measured: 1.6e-7 on one QLoRA loss).
NEAR_EXACT_REL = 1e-5
NEAR_EXACT_ABS = 1e-12  # for values at or near zero


@dataclass(frozen=True)
class Spread:
    n: int
    mean: float
    median: float
    std: float  # sample standard deviation (n - 1); 0 for one sample
    min: float
    max: float

    @property
    def cv(self) -> float:
        """Coefficient of variation: the spread relative to the median."""
        scale = abs(self.median) or abs(self.mean)
        return self.std / scale if scale else (0.0 if not self.std else math.inf)

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "cv": self.cv}


def spread(samples: Sequence[float]) -> Spread:
    if not samples:
        raise ValueError("spread of no samples")
    values = [float(v) for v in samples]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Spread(len(values), statistics.fmean(values), statistics.median(values), std,
                  min(values), max(values))


@dataclass(frozen=True)
class NoiseModel:
    """Relative noise of one sample and relative drift between sessions, with their source;
    ``spike`` is absolute, in the metric's unit (0: the metric has none)."""

    within_cv: float
    between_cv: float
    source: str  # "declared", "calibrated (3 sessions)", ... for the table
    spike: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pooled_cv(*sides: Sequence[float]) -> float | None:
    """The relative spread of one sample, pooled over the sides that have two or more."""
    num, den = 0.0, 0
    for samples in sides:
        if len(samples) < 2:
            continue
        measured = spread(samples)
        if not math.isfinite(measured.cv):
            continue
        num += measured.cv ** 2 * (measured.n - 1)
        den += measured.n - 1
    return math.sqrt(num / den) if den else None


def noise_model(baseline: Sequence[float], current: Sequence[float], *,
                declared_within: float, declared_between: float, spike: float = 0.0,
                calibrated: Mapping[str, Any] | None = None,
                pooled_sessions: int = 1) -> NoiseModel:
    """The noise to judge a shift by: the largest of what is declared, calibrated and measured
    now (a busy spell that widens today's samples makes the test more careful, not less).

    A declared drift is the difference between two sessions. A calibrated one is the spread of
    one session's median; this session is compared with a baseline centred on the mean of
    ``pooled_sessions`` such medians, so the difference drifts ``sqrt(1 + 1/k)`` times as much
    (sqrt 2 against a single session)."""
    within = [declared_within]
    between = declared_between
    source = "declared"
    if calibrated:
        within.append(float(calibrated.get("within_cv", 0.0)))
        if int(calibrated.get("sessions", 1)) >= 2:
            between = float(calibrated.get("between_cv", between)) * math.sqrt(
                1 + 1 / pooled_sessions)
            source = f"calibrated ({calibrated['sessions']} sessions)"
            if pooled_sessions > 1:
                source += f", baseline the mean of {pooled_sessions} sessions"
        else:
            source = "calibrated (1 session)"
    measured = pooled_cv(baseline, current)
    if measured is not None:
        within.append(measured)
    return NoiseModel(max(within), between, source, spike)


@dataclass(frozen=True)
class ShiftTest:
    """Is the current median worse than the baseline's, given the noise?"""

    change: float  # relative change of the median in the bad direction (> 0: worse)
    sd: float  # standard deviation of that change when nothing changed
    p_value: float  # one-sided, for "worse" (or for "better" when change < 0)
    n_current: int
    n_baseline: int
    noise: NoiseModel

    @property
    def z(self) -> float:
        return self.change / self.sd if self.sd else math.copysign(math.inf, self.change)

    def describe(self, unit: str = "") -> str:
        spikes = ""
        if self.noise.spike and (spike_share(self.n_current) or spike_share(self.n_baseline)):
            spikes = f", one-sample spikes {self.noise.spike:.3g}{f' {unit}' if unit else ''}"
        return (f"z={self.z:+.1f} p={self.p_value:.2g} (noise {self.noise.within_cv:.1%}/sample, "
                f"drift {self.noise.between_cv:.1%}{spikes}, {self.noise.source})")


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def spike_share(n: int) -> float:
    """How much of one sample's spike reaches the median of ``n`` samples."""
    return {1: 1.0, 2: 0.5}.get(n, 0.0)


def shift_test(baseline: Sequence[float], current: Sequence[float], *, worse_is_higher: bool,
               noise: NoiseModel, centre: float | None = None) -> ShiftTest:
    """The relative shift of the medians and its one-sided p-value under ``noise``; ``centre``
    replaces the baseline's median (the mean of calibrated sessions' medians)."""
    base = statistics.median(baseline) if centre is None else centre
    now = statistics.median(current)
    scale = abs(base) or abs(now) or 1.0
    change = (now - base) / scale
    if not worse_is_higher:
        change = -change
    variance = (noise.within_cv ** 2 * MEDIAN_VARIANCE_FACTOR
                * (1 / len(current) + 1 / len(baseline)) + noise.between_cv ** 2
                + (noise.spike / scale) ** 2
                * (spike_share(len(current)) ** 2 + spike_share(len(baseline)) ** 2))
    sd = math.sqrt(variance)
    if sd == 0:
        p = 0.0 if change else 1.0
    else:
        p = normal_sf(abs(change) / sd)
    return ShiftTest(change, sd, p, len(current), len(baseline), noise)


def calibrated_noise(samples: Sequence[float], previous: Mapping[str, Any] | None = None
                     ) -> dict[str, Any] | None:
    """Noise measured by ``--calibrate``: this session's spread and, with earlier calibrations,
    the drift of the medians between sessions. None when nothing varies (nothing to learn).

    ``within_cv`` is the root mean square of the sessions' own spreads; ``between_cv`` the
    spread of the sessions' medians beyond what their own sampling error explains.
    """
    measured = spread(samples)
    earlier = previous or {}
    medians = [*earlier.get("session_medians", []), measured.median][-CALIBRATION_SESSIONS:]
    counts = [*earlier.get("session_samples", []), measured.n][-CALIBRATION_SESSIONS:]
    within_cvs = [*earlier.get("within_cvs", []), measured.cv][-CALIBRATION_SESSIONS:]
    if measured.n < 2 or not all(map(math.isfinite, within_cvs)):
        return None
    within = math.sqrt(statistics.fmean(cv * cv for cv in within_cvs))
    between = 0.0
    if len(medians) > 1:
        observed = spread(medians).cv
        # A median of n samples wanders by within * sqrt(pi/2 / n) by itself.
        sampling = within * math.sqrt(MEDIAN_VARIANCE_FACTOR / statistics.fmean(counts))
        between = math.sqrt(max(observed ** 2 - sampling ** 2, 0.0))
    if within == 0 and between == 0:
        return None
    return {"within_cv": within, "between_cv": between, "sessions": len(medians),
            "session_medians": medians, "session_samples": counts, "within_cvs": within_cvs,
            "spread": measured.to_dict()}


def noise_applies(noise: Mapping[str, Any], cpu_signature: str | None) -> bool:
    """Calibrated noise describes the machine it was measured on: a VM of another CPU runs at
    another speed and drifts in other ways, so it applies only where ``cpu_signature`` is the
    same (calibrations written before it was recorded do not say where: they apply nowhere).
    Without a signature (a study of recorded runs) the caller vouches for the calibration."""
    return cpu_signature is None or noise.get("cpu_signature") == cpu_signature


def near_equal(a: float, b: float, rel: float = NEAR_EXACT_REL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=NEAR_EXACT_ABS)
