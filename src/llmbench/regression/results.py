"""Typed benchmark results: what a runner hands to the baseline check and the report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from llmbench.regression.tolerances import MACHINE_RELATIVE_KINDS, tolerance


class Direction(str, Enum):
    LOWER = "lower"  # lower is better (loss, latency, memory)
    HIGHER = "higher"  # higher is better (BLEU, tokens/s)
    EXACT = "exact"  # any change beyond tolerance is a failure (param counts, sizes)


class Determinism(str, Enum):
    """How a metric behaves when the same benchmark runs again; decides how it is compared."""

    # Same value on every run, every machine and every seed: parameter counts, footprint bytes.
    FIXED = "fixed"
    # Reproducible for the same seed on the same platform (hardware, packages, threads): loss on
    # CPU. Compared near-exactly there, with the declared (or calibrated) tolerance elsewhere.
    SEEDED = "seeded"
    # Varies from run to run: time, memory, throughput, CUDA losses, remote models.
    NOISY = "noisy"


class Scope(str, Enum):
    # Quality metrics compare against the baseline of the same device class (cpu / cuda).
    QUALITY = "quality"
    # Cost metrics (time, memory, throughput) compare only on the same hardware key.
    COST = "cost"


@dataclass
class Metric:
    value: float
    unit: str = ""
    direction: Direction = Direction.LOWER
    rel_tol: float = 0.0
    abs_tol: float = 0.0
    scope: Scope = Scope.QUALITY
    # When False the metric is recorded and reported but never compared (e.g. informational).
    compare: bool = True
    # None: FIXED for Direction.EXACT, otherwise NOISY. Runners mark CPU losses SEEDED.
    determinism: Determinism | None = None
    # Every measured value when the benchmark ran more than once (or timed several rounds);
    # ``value`` is then their median (NOISY) or their common value (FIXED / SEEDED).
    samples: list[float] | None = None
    # What it measures (time, throughput, memory, loss, ...): looks up the noise it is judged
    # by in ``tolerances.TOLERANCES`` until --calibrate measures it.
    kind: str | None = None
    # A mean over items (a RAG configuration's questions): each item's score, by item id. A
    # noisy metric is then judged item by item against the baseline's (``regression.paired``).
    items: dict[str, float] | None = None

    def __post_init__(self) -> None:
        self.direction = Direction(self.direction)
        self.scope = Scope(self.scope)
        self.value = float(self.value)
        if self.rel_tol < 0 or self.abs_tol < 0:
            raise ValueError("tolerances must be >= 0")
        if self.determinism is None:
            self.determinism = (Determinism.FIXED if self.direction is Direction.EXACT
                                else Determinism.NOISY)
        self.determinism = Determinism(self.determinism)
        if self.samples is not None:
            self.samples = [float(v) for v in self.samples]
        if self.items is not None:
            self.items = {str(k): float(v) for k, v in self.items.items()}

    @property
    def sample_values(self) -> list[float]:
        """The samples, or the single value when the metric was measured once."""
        return list(self.samples) if self.samples else [self.value]

    @property
    def machine_relative(self) -> bool:
        """A cost relative to a reference measured beside it: judged on a busy machine too."""
        return self.kind in MACHINE_RELATIVE_KINDS

    @property
    def is_finite(self) -> bool:
        return math.isfinite(self.value)

    def allowed_change(self, baseline_value: float) -> float:
        return max(self.abs_tol, self.rel_tol * abs(baseline_value))

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": json_number(self.value),
            "unit": self.unit,
            "direction": self.direction.value,
            "rel_tol": self.rel_tol,
            "abs_tol": self.abs_tol,
            "scope": self.scope.value,
            "compare": self.compare,
            "determinism": self.determinism.value,
            **({"samples": [json_number(v) for v in self.samples]} if self.samples else {}),
            **({"kind": self.kind} if self.kind else {}),
            **({"items": {k: json_number(v) for k, v in self.items.items()}}
               if self.items else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metric:
        return cls(
            value=float(data["value"]),
            unit=data.get("unit", ""),
            direction=data.get("direction", "lower"),
            rel_tol=float(data.get("rel_tol", 0.0)),
            abs_tol=float(data.get("abs_tol", 0.0)),
            scope=data.get("scope", "quality"),
            compare=bool(data.get("compare", True)),
            determinism=data.get("determinism"),
            samples=data.get("samples"),
            kind=data.get("kind"),
            items=data.get("items"),
        )


def json_number(value: float | None) -> float | str | None:
    """A number JSON can hold: NaN and inf become their repr ('nan', 'inf')."""
    if value is None or math.isfinite(value):
        return value
    return repr(value)


def _tolerances(kind: str | None, device: str, unit: str, rel_tol: float | None,
                abs_tol: float | None) -> tuple[float, float]:
    declared = tolerance(kind, device) if kind else None
    return (rel_tol if rel_tol is not None else (declared.rel_tol if declared else 0.0),
            abs_tol if abs_tol is not None else (declared.abs_tol_in(unit) if declared else 0.0))


def quality(value: float, unit: str = "", direction: str = "lower",
            rel_tol: float | None = None, abs_tol: float | None = None,
            determinism: str | Determinism | None = None, *, kind: str | None = None,
            device: str = "cpu") -> Metric:
    """A quality metric; tolerances come from the table for ``kind`` unless given."""
    rel, absolute = _tolerances(kind, device, unit, rel_tol, abs_tol)
    return Metric(value, unit, Direction(direction), rel, absolute, Scope.QUALITY,
                  determinism=determinism, kind=kind)


def cost(value: float, unit: str = "", direction: str = "lower", rel_tol: float | None = None,
         abs_tol: float | None = None, *, kind: str | None = None, device: str = "cpu"
         ) -> Metric:
    """A cost metric (time, memory, throughput): compared only on the same hardware."""
    rel, absolute = _tolerances(kind, device, unit, rel_tol, abs_tol)
    return Metric(value, unit, Direction(direction), rel, absolute, Scope.COST, kind=kind)


def seeded_on(device: str) -> Determinism:
    """Quality computed from seeded training/greedy decoding: reproducible on CPU, not on CUDA."""
    return Determinism.NOISY if device.startswith("cuda") else Determinism.SEEDED


def info(value: float, unit: str = "") -> Metric:
    """A figure kept in results and reports but never compared against a baseline."""
    return Metric(value, unit, Direction.LOWER, scope=Scope.QUALITY, compare=False)


@dataclass
class Result:
    """One benchmark's measurement.

    ``params`` define the benchmark (their hash decides whether a baseline is comparable);
    ``metrics`` are compared; ``artifacts`` (loss curves, per-question scores, ...) go to the
    report only.
    """

    suite: str
    params: dict[str, Any]
    metrics: dict[str, Metric] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Set when several runs were merged: {"count": N, "seeds": [...], "seed_policy": "same"}.
    # Not part of ``params``: repeating a benchmark does not change what it measures.
    repeats: dict[str, Any] = field(default_factory=dict)
    # Metrics that could not be computed here, with the reason (METEOR without WordNet, ...):
    # a baseline that has them reports "unavailable", not "missing".
    unavailable: dict[str, str] = field(default_factory=dict)
    # Metrics that should have reproduced across repeats and did not: name -> the values.
    nondeterministic: dict[str, list[float]] = field(default_factory=dict)
    # Where the wall time went: phase (load, train, eval, generate, retrieve, judge) -> seconds.
    phases: dict[str, float] = field(default_factory=dict)
    # How the process fared on the machine while measuring (CPU time, run-queue waits, the
    # speed probe); ``busy`` says why absolute costs cannot be judged: other work took the CPU
    # (``contended``: then costs relative to a reference timed beside them are not judged
    # either, both sides were preempted at random), or the machine ran at another speed.
    machine: dict[str, Any] = field(default_factory=dict)
    busy: str | None = None
    contended: bool = False

    def unjudged(self, metric: Metric) -> bool:
        """Is ``metric`` a cost this result's busy machine leaves unjudged?"""
        return bool(self.busy) and metric.scope is Scope.COST and (
            self.contended or not metric.machine_relative)

    def add(self, name: str, metric: Metric) -> None:
        self.metrics[name] = metric

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "params": self.params,
            "metrics": {k: m.to_dict() for k, m in sorted(self.metrics.items())},
            "artifacts": self.artifacts,
            "notes": self.notes,
            **({"repeats": self.repeats} if self.repeats else {}),
            **({"unavailable": self.unavailable} if self.unavailable else {}),
            **({"nondeterministic": self.nondeterministic} if self.nondeterministic else {}),
            **({"phases": self.phases} if self.phases else {}),
            **({"machine": self.machine} if self.machine else {}),
            **({"busy": self.busy} if self.busy else {}),
            **({"contended": True} if self.busy and self.contended else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """The inverse of ``to_dict`` (a result sent by another process: ``llmbench ab``)."""
        return cls(
            suite=data["suite"], params=dict(data.get("params") or {}),
            metrics={name: Metric.from_dict(m) for name, m in (data.get("metrics") or {}).items()},
            artifacts=dict(data.get("artifacts") or {}), notes=list(data.get("notes") or []),
            repeats=dict(data.get("repeats") or {}),
            unavailable=dict(data.get("unavailable") or {}),
            nondeterministic=dict(data.get("nondeterministic") or {}),
            phases=dict(data.get("phases") or {}), machine=dict(data.get("machine") or {}),
            busy=data.get("busy"), contended=bool(data.get("contended", False)))


def latency_metrics(benchmark: Any, prefix: str, device: str = "cpu") -> dict[str, Metric]:
    """Turn a finished pytest-benchmark ``benchmark`` fixture's statistics into cost metrics.

    ``benchmark.stats.stats`` carries mean/median/stddev/min/max in seconds and the rounds.
    """
    stats = benchmark.stats.stats
    metrics = {f"{prefix}_{key}_s": cost(getattr(stats, key), "s", kind="time", device=device)
               for key in ("median", "mean", "min")}
    # The timed rounds are samples of the median: the comparison can test them.
    metrics[f"{prefix}_median_s"].samples = list(stats.data)
    metrics[f"{prefix}_stddev_s"] = info(stats.stddev, "s")
    metrics[f"{prefix}_rounds"] = info(stats.rounds, "rounds")
    return metrics
