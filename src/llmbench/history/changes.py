"""Persistent shifts in a metric's history: ruptures' binary segmentation + a rank test.

Each series is one (benchmark, profile, device, hardware key, metric), its runs in time order,
one value per run (the median of the run's repeats). A series is scaled by a robust estimate of
its run-to-run noise (the median absolute successive difference, which a step barely moves),
so one penalty fits metrics of any unit. Binary segmentation (``ruptures.Binseg``,
least-squares cost, segments of at least ``MIN_SIZE`` runs, penalty ``PENALTY × log(n)``)
proposes change points strongest first; each is kept only if a two-sided Mann-Whitney U test
between the runs of its segment before and after (bounded by the changes kept so far) gives
p <= ``ALPHA``, and a stretch whose strongest split fails is not split further: the shape of
E-Divisive (Apache Otava), top-down splits each confirmed by a test. A change's confidence is 1 − p on its final segments.

Why not Apache Otava (E-Divisive): 0.8.0 pins numpy==2.2.* and scipy<1.17, which this stack
(numpy 2.4, scipy 1.17) cannot install beside it. ruptures depends only on numpy and scipy.
The defaults were chosen with ``llmbench history study`` on this suite's recorded noise
(docs/history/changepoint-study.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

PENALTY = 3.0  # × log(n), on the noise-scaled series
MIN_SIZE = 2  # runs per segment: a single odd run is not a persistent shift
ALPHA = 0.01  # a change whose segments do not differ at this level is dropped
RECENT_RUNS = 3  # `changes` fails on a regression whose first run is among the last N


@dataclass(frozen=True, order=True)
class SeriesKey:
    benchmark_id: str
    profile: str
    device: str
    hardware_key: str
    metric: str

    def label(self) -> str:
        return (f"{self.benchmark_id} [{self.profile}, {self.device}] {self.metric} "
                f"@ {self.hardware_key}")


@dataclass
class Point:
    run_id: str
    commit: str | None
    time: datetime
    value: float
    samples: list[float]
    verdict: str | None
    outcome: str | None
    baseline: float | None
    allowed: float | None
    config_hash: str | None
    seed_policy: str = "same"

    @property
    def comparable_key(self) -> tuple[str | None, str]:
        """Runs with another benchmark config or seed policy measure something else."""
        return self.config_hash, self.seed_policy


@dataclass
class Series:
    key: SeriesKey
    direction: str
    unit: str
    points: list[Point] = field(default_factory=list)

    @property
    def values(self) -> np.ndarray:
        return np.array([p.value for p in self.points], dtype=float)


@dataclass
class Change:
    series: Series
    index: int  # first run after the change
    before: float  # median of the segment before
    after: float  # median of the segment after
    p_value: float

    @property
    def size(self) -> float:
        """Relative change of the segment medians (after / before − 1)."""
        if self.before == 0:
            return math.inf if self.after != self.before else 0.0
        return self.after / self.before - 1

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value

    @property
    def regression(self) -> bool:
        return is_regression(self.series.direction, self.after - self.before)

    @property
    def last_before(self) -> Point:
        return self.series.points[self.index - 1]

    @property
    def first_after(self) -> Point:
        return self.series.points[self.index]

    def runs_ago(self) -> int:
        """1 when the change starts at the latest run."""
        return len(self.series.points) - self.index


def is_regression(direction: str, delta: float) -> bool:
    if direction == "higher":
        return delta < 0
    if direction == "lower":
        return delta > 0
    return delta != 0  # exact: any change


def noise_scale(values: np.ndarray) -> float:
    """Run-to-run noise, robust to steps and outliers: median |successive difference| / (0.6745
    √2), i.e. the normal-consistent MAD of the differences (a step moves one difference)."""
    scale = 0.0
    if len(values) > 2:
        scale = float(np.median(np.abs(np.diff(values)))) / (0.6745 * math.sqrt(2))
    floor = 1e-9 * max(float(np.median(np.abs(values))), 1e-12)
    return max(scale, floor)


@dataclass(frozen=True)
class Step:
    index: int  # first value after the change
    p_value: float
    before: float  # median of the segment before
    after: float  # median of the segment after


def change_points(values: Iterable[float], *, penalty: float = PENALTY,
                  min_size: int = MIN_SIZE, alpha: float = ALPHA) -> list[Step]:
    """The persistent shifts of one series (values in time order)."""
    import ruptures

    x = np.asarray(list(values), dtype=float)
    n = len(x)
    if n < 2 * min_size:
        return []
    z = (x - np.median(x)) / noise_scale(x)
    algo = ruptures.Binseg(model="l2", min_size=min_size, jump=1).fit(z)
    found = algo.predict(pen=penalty * math.log(n))[:-1]  # the last "change" is n itself
    # Binary segmentation finds changes strongest first; predicting 1, 2, … changes replays
    # that order. A change is kept only if it is significant between its neighbours kept so
    # far; when the strongest split of a stretch is not, the stretch has no change (weaker
    # splits inside it would only misplace the one that failed).
    accepted: list[int] = []
    closed: list[tuple[int, int]] = []
    for count in range(1, len(found) + 1):
        for cut in sorted(set(algo.predict(n_bkps=count)[:-1]) - set(accepted)):
            if any(lo < cut < hi for lo, hi in closed):
                continue
            bounds = [0, *sorted([*accepted, cut]), n]
            i = bounds.index(cut)
            if _rank_test(x[bounds[i - 1]:cut], x[cut:bounds[i + 1]]) <= alpha:
                accepted.append(cut)
            else:
                closed.append((bounds[i - 1], bounds[i + 1]))
    bounds = [0, *sorted(accepted), n]
    steps = []
    for i in range(1, len(bounds) - 1):
        before, after = x[bounds[i - 1]:bounds[i]], x[bounds[i]:bounds[i + 1]]
        steps.append(Step(bounds[i], _rank_test(before, after), float(np.median(before)),
                          float(np.median(after))))
    return steps


def _rank_test(before: np.ndarray, after: np.ndarray) -> float:
    from scipy.stats import mannwhitneyu

    if np.ptp(before) == 0 and np.ptp(after) == 0:
        return 0.0 if before[0] != after[0] else 1.0  # deterministic metric: an exact step
    return float(mannwhitneyu(before, after, alternative="two-sided").pvalue)


def build_series(rows: Iterable[dict[str, Any]]) -> list[Series]:
    """Group measurement rows (time-ordered) into series; runs without a value are left out."""
    by_key: dict[SeriesKey, Series] = {}
    for row in rows:
        if row.get("value") is None:
            continue
        key = SeriesKey(row["benchmark_id"], row["profile"], row["device"], row["hardware_key"],
                        row["metric"])
        series = by_key.setdefault(key, Series(key, row["direction"], row["unit"]))
        series.direction, series.unit = row["direction"], row["unit"]  # the latest run's
        series.points.append(Point(
            run_id=row["run_id"], commit=row.get("commit"), time=row["run_time"],
            value=float(row["value"]),
            samples=[float(v) for v in (row.get("samples") or []) if v is not None],
            verdict=row.get("verdict"), outcome=row.get("outcome"), baseline=row.get("baseline"),
            allowed=row.get("allowed"), config_hash=row.get("config_hash"),
            seed_policy=row.get("seed_policy") or "same"))
    return [by_key[key] for key in sorted(by_key)]


def series_changes(series: Series, *, penalty: float = PENALTY, min_size: int = MIN_SIZE,
                   alpha: float = ALPHA) -> list[Change]:
    """Changes within each stretch of runs with the same config hash and seed policy: a change
    of the benchmark's params (or from fresh-seed to same-seed repeats) is "not comparable",
    not a change point."""
    changes = []
    start = 0
    points = series.points
    for end in range(1, len(points) + 1):
        if end < len(points) and points[end].comparable_key == points[start].comparable_key:
            continue
        for step in change_points(series.values[start:end], penalty=penalty,
                                  min_size=min_size, alpha=alpha):
            changes.append(Change(series, start + step.index, step.before, step.after,
                                  step.p_value))
        start = end
    return changes


def find_changes(rows: Iterable[dict[str, Any]], **options: Any) -> list[Change]:
    return [change for series in build_series(rows)
            for change in series_changes(series, **options)]
