"""A results.json document as history rows: one run, one row per (benchmark, metric).

Pure data handling, no database. The run id is a hash of the document's provenance and
benchmarks, so appending the same results twice (the plugin at the end of a run, then
``llmbench history import`` of the same file) stores it once. Record outcomes and metric
verdicts are copied as opaque strings: this layer never interprets them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from llmbench.regression.baselines import config_hash

UNKNOWN_HARDWARE = "unknown"


@dataclass
class BenchmarkRow:
    """One benchmark of a run: its outcome, also when it produced no metrics (an error)."""

    benchmark_id: str
    profile: str
    device: str
    hardware_key: str
    config_hash: str | None
    outcome: str | None
    message: str


@dataclass
class MetricRow:
    benchmark_id: str
    profile: str
    device: str
    hardware_key: str
    config_hash: str | None
    seed_policy: str  # "same" or "fresh": fresh-seed medians are not comparable with same-seed
    outcome: str | None
    metric: str
    value: float | None  # None when the run produced NaN/inf
    unit: str
    direction: str
    scope: str
    determinism: str | None
    compared: bool
    rel_tol: float | None
    abs_tol: float | None
    samples: list[float] | None
    verdict: str | None
    baseline: float | None
    allowed: float | None
    packages: dict[str, Any]


@dataclass
class Run:
    run_id: str
    commit: str | None
    dirty: bool | None
    time: datetime  # UTC
    source: str
    benchmarks: list[BenchmarkRow] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)


def run_id_of(results: dict[str, Any]) -> str:
    """The same measured run gives the same id, wherever and however often it is appended."""
    payload = json.dumps({"provenance": results.get("provenance"),
                          "benchmarks": results.get("benchmarks")},
                         sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def parse_time(text: Any, source: str) -> datetime:
    if not isinstance(text, str) or not text:
        raise ValueError(f"{source}: field 'provenance.date' is missing; the history orders "
                         f"runs by it")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{source}: field 'provenance.date' is not an ISO 8601 time: "
                         f"{text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _number(value: Any) -> float | None:
    """A finite float, or None (results.json writes NaN/inf as the strings 'nan'/'inf')."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def run_from_results(results: dict[str, Any], source: str) -> Run:
    """Rows of one results.json document; a bad document raises ValueError naming the field."""
    provenance = results.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise ValueError(f"{source}: field 'provenance' is not an object")
    benchmarks = results.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise ValueError(f"{source}: field 'benchmarks' is not a list")
    run = Run(run_id=run_id_of(results), commit=provenance.get("git_commit"),
              dirty=provenance.get("git_dirty"), time=parse_time(provenance.get("date"), source),
              source=source)
    seen: set[tuple[str, str, str, str]] = set()
    for index, record in enumerate(benchmarks):
        where = f"{source}: benchmarks[{index}]"
        if not isinstance(record, dict):
            raise ValueError(f"{where} is not an object")
        for name in ("benchmark_id", "profile", "device"):
            if not isinstance(record.get(name), str):
                raise ValueError(f"{where}: field {name!r} is missing or not a string")
        env = record.get("environment") or {}
        result = record.get("result") or None
        chash = (config_hash(result.get("suite", ""), result.get("params", {}))
                 if isinstance(result, dict) else None)
        common = {"benchmark_id": record["benchmark_id"], "profile": record["profile"],
                  "device": record["device"],
                  "hardware_key": env.get("hardware_key") or UNKNOWN_HARDWARE,
                  "config_hash": chash, "outcome": _opaque(record.get("outcome"))}
        run.benchmarks.append(BenchmarkRow(**common, message=str(record.get("message") or "")))
        if result is None:
            continue
        metrics = result.get("metrics")
        if not isinstance(metrics, dict):
            raise ValueError(f"{where}: field 'result.metrics' is not an object")
        comparison = record.get("comparison") or {}
        repeats = result.get("repeats") or {}
        seed_policy = str(repeats.get("seed_policy") or "same")
        for name, metric in sorted(metrics.items()):
            key = (record["benchmark_id"], record["profile"], record["device"], name)
            if key in seen:
                raise ValueError(f"{where}: metric {name!r} of {record['benchmark_id']} "
                                 f"[{record['profile']}, {record['device']}] appears twice")
            seen.add(key)
            if not isinstance(metric, dict) or "value" not in metric:
                raise ValueError(f"{where}: field 'result.metrics.{name}.value' is missing")
            row = comparison.get(name) if isinstance(comparison, dict) else None
            row = row if isinstance(row, dict) else {}
            samples = metric.get("samples")
            run.metrics.append(MetricRow(
                **common, seed_policy=seed_policy, metric=name,
                value=_number(metric["value"]),
                unit=str(metric.get("unit") or ""),
                direction=str(metric.get("direction") or "lower"),
                scope=str(metric.get("scope") or "quality"),
                determinism=_opaque(metric.get("determinism")),
                compared=bool(metric.get("compare", True)),
                rel_tol=_number(metric.get("rel_tol")), abs_tol=_number(metric.get("abs_tol")),
                samples=[_number(v) for v in samples] if isinstance(samples, list) else None,
                verdict=_opaque(row.get("verdict")), baseline=_number(row.get("baseline")),
                allowed=_number(row.get("allowed")),
                packages=env.get("packages") or {}))
    return run


def _opaque(value: Any) -> str | None:
    return None if value is None else str(value)
