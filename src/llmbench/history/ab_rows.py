"""An A/B run (``llmbench ab``'s results.json, ``"kind": "ab"``) as history rows of its own
kind: one run row (both sides, the settings, the exit code) and one row per (benchmark,
metric) with B's change against A and its interval. A/B runs are not nights: they never enter
the series that ``history changes`` and the dashboard read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmbench.history.rows import parse_time

AB_KIND = "ab"


@dataclass
class AbMetricRow:
    benchmark_id: str
    profile: str
    device: str
    metric: str
    outcome: str | None
    verdict: str | None
    value_a: float | None
    value_b: float | None
    unit: str
    change: float | None  # B vs A, relative (the paired estimate for a noisy metric)
    low: float | None  # its interval, relative
    high: float | None
    rounds: int | None
    decided: bool


@dataclass
class AbRun:
    run_id: str
    time: datetime
    source: str
    base: str
    base_commit: str | None
    candidate: str
    candidate_commit: str | None
    schedule: str
    exit_code: int
    n_benchmarks: int
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: list[AbMetricRow] = field(default_factory=list)

    @property
    def commit(self) -> str | None:  # what `history import` prints: the candidate's
        return self.candidate_commit


def is_ab(results: dict[str, Any]) -> bool:
    return results.get("kind") == AB_KIND


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def ab_run_from_results(results: dict[str, Any], source: str) -> AbRun:
    sides = results.get("sides") or {}
    if not {"A", "B"} <= set(sides):
        raise ValueError(f"{source}: an A/B document needs 'sides' A and B")
    payload = json.dumps({k: results.get(k) for k in ("provenance", "sides", "benchmarks")},
                         sort_keys=True, default=str, separators=(",", ":"))
    settings = results.get("settings") or {}
    run = AbRun(run_id=hashlib.sha256(payload.encode()).hexdigest(),
                time=parse_time((results.get("provenance") or {}).get("date"), source),
                source=source, base=str(sides["A"].get("spec")),
                base_commit=sides["A"].get("commit"), candidate=str(sides["B"].get("spec")),
                candidate_commit=sides["B"].get("commit"),
                schedule=str(settings.get("schedule", "")),
                exit_code=int(results.get("exit_code", 2)),
                n_benchmarks=len(results.get("benchmarks") or []), settings=settings)
    for bench in results.get("benchmarks") or []:
        for name, row in sorted((bench.get("comparison") or {}).items()):
            paired = row.get("paired") or {}
            change = paired.get("estimate") if paired else _relative(row)
            run.metrics.append(AbMetricRow(
                benchmark_id=bench.get("benchmark_id") or bench.get("nodeid", ""),
                profile=bench.get("profile", ""), device=bench.get("device", ""), metric=name,
                outcome=bench.get("outcome"), verdict=row.get("verdict"),
                value_a=_float(row.get("baseline")), value_b=_float(row.get("current")),
                unit=str(row.get("unit") or ""), change=_float(change),
                low=_float(paired.get("low")), high=_float(paired.get("high")),
                rounds=paired.get("rounds"), decided=bool(row.get("decided", True))))
    return run


def _relative(row: dict[str, Any]) -> float | None:
    a, b = _float(row.get("baseline")), _float(row.get("current"))
    return (b - a) / abs(a) if a and b is not None else None
