"""A paired test for a metric both sides measured item by item (a RAG configuration's questions).

A noisy quality metric (a remote generator or judge, or seeds that differ) is a mean over the
same questions on both sides. Whether it moved is a question about the per-question differences
``d_i = current_i - baseline_i``: a hard question stays hard on both sides, so the spread between
questions cancels and what is left is the noise of answering and judging them again.

The test is Student's paired t-test on the questions both sides scored: ``t = mean(d) /
(sd(d) / sqrt(n))`` with ``n - 1`` degrees of freedom, its one-sided p-value in the direction
the mean moved, the 95 % confidence interval of the mean difference (``mean +- t_0.975 *
sd / sqrt(n)``) and the standardized effect ``dz = mean / sd``. It is run from
``MIN_PAIRED_ITEMS`` shared items on (with fewer, a t-distribution with one or two degrees of
freedom says little).

Pure Python: the t-distribution comes from the regularized incomplete beta function
(continued fraction, Numerical Recipes 6.4), so the rules need no scipy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

MIN_PAIRED_ITEMS = 5
CONFIDENCE = 0.95


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 3e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (bisection on ``t_sf``)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    low, high = -1e6, 1e6
    while high - low > 1e-9 * max(1.0, abs(low)):
        mid = (low + high) / 2
        if 1.0 - t_sf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


@dataclass(frozen=True)
class PairedTest:
    """Current minus baseline, question by question."""

    n: int
    mean: float  # mean difference (current - baseline), in the metric's unit
    sd: float  # sample standard deviation of the differences
    t: float
    p_value: float  # one-sided, in the direction the mean moved
    low: float  # CONFIDENCE interval of the mean difference
    high: float

    @property
    def dz(self) -> float:
        """The mean difference in standard deviations of the differences."""
        if self.sd:
            return self.mean / self.sd
        return 0.0 if not self.mean else math.copysign(math.inf, self.mean)

    def describe(self, unit: str = "") -> str:
        what = f" {unit}" if unit else ""
        return (f"paired over {self.n} questions: mean {self.mean:+.3g}{what} "
                f"({CONFIDENCE:.0%} CI {self.low:+.3g} to {self.high:+.3g}), dz={self.dz:+.2f}, "
                f"t({self.n - 1})={self.t:+.2f} p={self.p_value:.2g}")


def shared_items(baseline: Mapping[str, float], current: Mapping[str, float]) -> list[str]:
    """The items both sides scored, in the current side's order."""
    return [key for key in current if key in baseline]


def paired_test(baseline: Mapping[str, float], current: Mapping[str, float]) -> PairedTest:
    """The paired t-test of ``current - baseline`` over their shared items (at least two)."""
    keys = shared_items(baseline, current)
    if len(keys) < 2:
        raise ValueError(f"a paired test needs two or more shared items, got {len(keys)}")
    diffs = [float(current[k]) - float(baseline[k]) for k in keys]
    n = len(diffs)
    mean = statistics.fmean(diffs)
    sd = statistics.stdev(diffs)
    se = sd / math.sqrt(n)
    if se == 0:  # every question moved by the same amount: no noise to weigh it against
        t = 0.0 if mean == 0 else math.copysign(math.inf, mean)
        p = 1.0 if mean == 0 else 0.0
        return PairedTest(n, mean, sd, t, p, mean, mean)
    t = mean / se
    half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * se
    return PairedTest(n, mean, sd, t, t_sf(abs(t), n - 1), mean - half, mean + half)
