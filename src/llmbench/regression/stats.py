"""Sample statistics behind noise-aware comparison: spread, calibrated tolerance, significance.

The rule follows asv: a change counts only when it is both larger than the metric's tolerance
and statistically significant given the samples on both sides. Significance is a one-sided
Mann-Whitney U test when the sample sizes can reach ``alpha`` at all; with fewer samples it
falls back to asv's pessimistic check, non-overlapping ``1 - alpha`` confidence intervals of the
means. With one sample on either side there is nothing to test and the tolerance decides alone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as scipy_stats

DEFAULT_ALPHA = 0.01
# A calibrated tolerance is a multiple of sigma, the metric's relative noise (within a session
# and between sessions). When the tolerance decides alone (one sample on a side) it must be wide
# to stay quiet: 3 sigma. When a significance test backs it, the test controls false alarms and
# the tolerance only sets the smallest change worth reporting: 1 sigma. The noise study
# (``llmbench noise-study``) measured both choices on this suite's samples.
TOLERANCE_SIGMAS = 3.0
TESTED_TOLERANCE_SIGMAS = 1.0
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
        """Coefficient of variation: the spread relative to the mean."""
        return self.std / abs(self.mean) if self.mean else (0.0 if not self.std else math.inf)

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "cv": self.cv}


def spread(samples: Sequence[float]) -> Spread:
    if not samples:
        raise ValueError("spread of no samples")
    values = [float(v) for v in samples]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Spread(len(values), statistics.fmean(values), statistics.median(values), std,
                  min(values), max(values))


def calibrated_tolerance(samples: Sequence[float], previous: Mapping[str, Any] | None = None,
                         sigmas: float = TOLERANCE_SIGMAS,
                         tested_sigmas: float = TESTED_TOLERANCE_SIGMAS
                         ) -> dict[str, Any] | None:
    """Tolerances from this session's spread and, when earlier calibrations are given, the drift
    of the medians between sessions: sigma = sqrt(within_cv^2 + between_cv^2).

    ``rel_tol`` applies when the tolerance decides alone, ``rel_tol_tested`` when a significance
    test backs it. None when nothing varies: there is no noise to derive a tolerance from.
    """
    measured = spread(samples)
    earlier = previous or {}
    medians = [*earlier.get("session_medians", []), measured.median][-CALIBRATION_SESSIONS:]
    within_cvs = [*earlier.get("within_cvs", []), measured.cv][-CALIBRATION_SESSIONS:]
    if measured.n < 2 or not all(map(math.isfinite, within_cvs)):
        return None
    within = math.sqrt(statistics.fmean(cv * cv for cv in within_cvs))
    between = spread(medians).cv if len(medians) > 1 else 0.0
    sigma = math.sqrt(within ** 2 + between ** 2)
    if sigma == 0:
        return None
    return {"rel_tol": sigmas * sigma, "rel_tol_tested": tested_sigmas * sigma,
            "sigmas": sigmas, "tested_sigmas": tested_sigmas, "sigma": sigma,
            "within_cv": within, "between_cv": between, "sessions": len(medians),
            "session_medians": medians, "within_cvs": within_cvs,
            "spread": measured.to_dict()}


def near_equal(a: float, b: float, rel: float = NEAR_EXACT_REL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=NEAR_EXACT_ABS)


@dataclass(frozen=True)
class Significance:
    test: str  # what was tested, for the table
    p_value: float | None
    significant: bool

    def describe(self) -> str:
        return self.test if self.p_value is None else f"{self.test} p={self.p_value:.3g}"


def min_mann_whitney_p(n1: int, n2: int) -> float:
    """The smallest one-sided p the exact test can give for these sizes: 1 / C(n1+n2, n1)."""
    return 1.0 / math.comb(n1 + n2, n1)


def shift_is_significant(baseline: Sequence[float], current: Sequence[float], higher: bool,
                         alpha: float = DEFAULT_ALPHA) -> Significance | None:
    """Is ``current`` significantly higher (``higher=True``) or lower than ``baseline``?

    None when either side has a single sample: nothing to test.
    """
    if len(baseline) < 2 or len(current) < 2:
        return None
    if len(set(baseline) | set(current)) == 1:
        return Significance("identical samples", 1.0, False)
    if min_mann_whitney_p(len(baseline), len(current)) <= alpha:
        alternative = "greater" if higher else "less"
        p = float(scipy_stats.mannwhitneyu(current, baseline, alternative=alternative).pvalue)
        return Significance("Mann-Whitney", p, p <= alpha)
    low_b, high_b = mean_interval(baseline, 1 - alpha)
    low_c, high_c = mean_interval(current, 1 - alpha)
    separated = low_c > high_b if higher else high_c < low_b
    return Significance(f"{1 - alpha:.0%} CIs {'apart' if separated else 'overlap'}", None,
                        separated)


def mean_interval(samples: Sequence[float], confidence: float) -> tuple[float, float]:
    """Student-t confidence interval of the mean."""
    measured = spread(samples)
    half = (scipy_stats.t.ppf((1 + confidence) / 2, measured.n - 1)
            * measured.std / math.sqrt(measured.n))
    return measured.mean - half, measured.mean + half
