"""Paired rounds: how much B differs from A, with an interval, from the rounds' ratios.

Round i measured A and B side by side, so their ratio ``B_i / A_i`` has the machine's state of
that moment divided out. The rounds' log ratios ``d_i`` are summarised by

* the **Hodges-Lehmann estimate**: the median of the Walsh averages ``(d_i + d_j) / 2``,
  ``i <= j``; a round that a spike hit on one side moves it little (unlike a mean);
* the **Wilcoxon signed-rank interval** around it: between two order statistics of the Walsh
  averages, chosen from the exact null distribution of the signed-rank statistic. It needs no
  normal noise, only noise symmetric around the true ratio, and covers at its nominal level
  with few rounds (a bootstrap interval is too narrow at ten). Its one-sided p-values come from
  ``scipy.stats.wilcoxon``, the test this interval inverts.

Why not a t interval on the ratios: one round of a shared VM can take 1.5x (a neighbour, a
page-cache miss), and a mean and its standard deviation follow it. Log ratios make 2x slower
and 2x faster equally far from 1. Where a metric can be zero or negative (a memory growth), the
differences ``(B_i - A_i) / |median A|`` stand in for the log ratios.

The interval at level ``1 - 2 alpha`` (each side alpha, the plugin's ``--bench-alpha``) exists
only from ``rounds_needed(alpha)`` rounds on: with n rounds the smallest one-sided p-value is
``2^-n`` (every round on the same side), so alpha 0.001 needs 10.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Scales of the paired changes (``PairedChange.scale``).
LOG_RATIO = "log ratio"
RELATIVE_DIFFERENCE = "difference relative to A"
DIFFERENCE = "difference"


@functools.lru_cache(maxsize=256)
def signed_rank_cdf(n: int) -> np.ndarray:
    """P(T+ <= t) for t = 0 .. n(n+1)/2, where T+ is the signed-rank statistic of n values
    with no ties under the null (each rank's sign a fair coin)."""
    probabilities = np.zeros(n * (n + 1) // 2 + 1)
    probabilities[0] = 1.0
    for rank in range(1, n + 1):
        shifted = np.zeros_like(probabilities)
        shifted[rank:] = probabilities[:-rank]
        probabilities = 0.5 * (probabilities + shifted)
    return np.cumsum(probabilities)


def rounds_needed(alpha: float) -> int:
    """The fewest rounds whose interval at level 1 - 2 alpha exists."""
    return max(1, math.ceil(math.log2(1 / alpha) - 1e-12))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def hodges_lehmann(d: Sequence[float], alpha: float) -> Interval:
    """The estimate and the two-sided 1 - 2 alpha interval of the centre of ``d`` (infinite
    bounds when there are too few values for that level)."""
    values = np.asarray(d, dtype=float)
    n = len(values)
    if n == 0:
        raise ValueError("no paired rounds")
    i, j = np.triu_indices(n)
    walsh = np.sort((values[i] + values[j]) / 2)
    estimate = float(np.median(walsh))
    # The shifts the test rejects at alpha: below the (c+1)-th lowest Walsh average, where c
    # is the largest t with P(T+ <= t) <= alpha (Hollander & Wolfe); none when c does not exist.
    outside = int(np.searchsorted(signed_rank_cdf(n), alpha, side="right"))  # c + 1
    if outside == 0:
        return Interval(estimate, -math.inf, math.inf)
    return Interval(estimate, float(walsh[outside - 1]), float(walsh[len(walsh) - outside]))


@dataclass(frozen=True)
class PairedChange:
    """B against A over n paired rounds, on ``scale``; ``relative`` turns any point of it into
    a relative change (0.05: B 5 % above A)."""

    n: int
    scale: str
    centre: Interval  # at level 1 - 2 alpha: decides regressed / improved
    equivalence: Interval  # at level 1 - 2 * EQUIVALENCE_ALPHA: decides "no change"
    p_higher: float  # one-sided p-values (Wilcoxon) that B is higher / lower than A
    p_lower: float
    reference: float  # |median of A|: the unit of RELATIVE_DIFFERENCE

    def relative(self, value: float) -> float:
        if self.scale == LOG_RATIO:
            return math.expm1(value)
        return value if self.scale == RELATIVE_DIFFERENCE else value / (self.reference or 1.0)

    def threshold(self, min_effect: float) -> float:
        """A relative change of ``min_effect`` on this change's scale."""
        return math.log1p(min_effect) if self.scale == LOG_RATIO else min_effect

    def describe(self) -> str:
        """``+4.1 % [+1.2 %, +7.3 %]``: the estimate and interval as relative changes."""
        if self.scale == DIFFERENCE:
            c = self.centre
            return f"{c.estimate:+.3g} [{c.low:+.3g}, {c.high:+.3g}] (A's median is 0)"
        c = self.centre
        if not (math.isfinite(c.low) and math.isfinite(c.high)):
            return f"{self.relative(c.estimate):+.1%} [{self.n} rounds: too few for the interval]"
        return f"{self.relative(c.estimate):+.1%} [{self.relative(c.low):+.1%}, " \
               f"{self.relative(c.high):+.1%}]"


# "No change beyond the minimum effect" is decided by a narrower interval than a regression:
# an equivalence test (two one-sided tests at 5 %) that the whole 90 % interval lies within it.
EQUIVALENCE_ALPHA = 0.05


def paired_change(a: Sequence[float], b: Sequence[float], alpha: float) -> PairedChange:
    if len(a) != len(b) or not a:
        raise ValueError(f"paired rounds need equal, non-zero counts (A {len(a)}, B {len(b)})")
    reference = abs(statistics.median(a))
    if all(x > 0 for x in a) and all(y > 0 for y in b):
        d = [math.log(y / x) for x, y in zip(a, b)]
        scale = LOG_RATIO
    elif reference > 0:
        d = [(y - x) / reference for x, y in zip(a, b)]
        scale = RELATIVE_DIFFERENCE
    else:
        d = [y - x for x, y in zip(a, b)]
        scale = DIFFERENCE
    p_higher, p_lower = _wilcoxon(d)
    return PairedChange(len(d), scale, hodges_lehmann(d, alpha),
                        hodges_lehmann(d, EQUIVALENCE_ALPHA), p_higher, p_lower, reference)


def _wilcoxon(d: Sequence[float]) -> tuple[float, float]:
    from scipy.stats import wilcoxon

    if not any(d):  # every round identical: no evidence either way
        return 1.0, 1.0
    greater = float(wilcoxon(d, alternative="greater").pvalue)
    less = float(wilcoxon(d, alternative="less").pvalue)
    return greater, less

