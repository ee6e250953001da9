"""One JSON baseline file per benchmark id: load, validate, compare, atomically rewrite.

Layout of a file::

    {
      "schema_version": 2,
      "benchmark_id": "lora_ranks/lora_rank/r8",
      "profile": "smoke",
      "suite": "lora",
      "config_hash": "…",                      # hash of the params below
      "params": {…},
      "quality": {"cpu": Entry, "cuda": Entry},  # per device class
      "cost": {"cpu/<model> x2": Entry, "cuda/NVIDIA H100 80GB HBM3 x1": Entry}  # per hardware
    }
    Entry = {"metrics": {name: metric dict (value, samples, tolerance from --calibrate)},
             "repeats": {"count", "seeds", "seed_policy"},
             "environment": {…},                 # hardware key, packages, threads
             "provenance": {commit, dirty, date, author, reason},
             "previous": {"provenance": {…}, "values": {name: value}}}  # what this replaced

Version 1 files (no samples, tolerances or previous values) are still read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.regression import environment as env_info
from llmbench.regression.compare import Comparison, Context, Reference, compare_metrics
from llmbench.regression.repeats import SeedPolicy, must_reproduce
from llmbench.regression.results import Result, Scope
from llmbench.regression.stats import DEFAULT_ALPHA, calibrated_tolerance

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
# Result artifacts kept beside the quality metrics, for the report only (never compared):
# the baseline's loss curve is drawn dashed under the current one.
BASELINE_ARTIFACTS = ("loss_curve",)


class BaselineError(Exception):
    """A baseline file exists but cannot be used (bad JSON or wrong shape)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"baseline file {path}: {problem}")
        self.path = path
        self.problem = problem


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def config_hash(suite: str, params: dict[str, Any]) -> str:
    payload = json.dumps({"suite": suite, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _require(cond: bool, path: Path, problem: str) -> None:
    if not cond:
        raise BaselineError(path, problem)


def _validate(path: Path, data: Any) -> None:
    _require(isinstance(data, dict), path, "top level must be a JSON object")
    version = data.get("schema_version")
    _require(version in READABLE_VERSIONS, path,
             f"schema_version is {version!r}, expected one of {READABLE_VERSIONS}")
    for key in ("benchmark_id", "config_hash"):
        _require(isinstance(data.get(key), str), path, f"field '{key}' must be a string")
    _require(isinstance(data.get("params"), dict), path, "field 'params' must be an object")
    for section in ("quality", "cost"):
        entries = data.get(section, {})
        _require(isinstance(entries, dict), path, f"field '{section}' must be an object")
        for key, entry in entries.items():
            where = f"{section}.{key}"
            _require(isinstance(entry, dict) and isinstance(entry.get("metrics"), dict), path,
                     f"field '{where}.metrics' must be an object")
            for name, metric in entry["metrics"].items():
                value = metric.get("value") if isinstance(metric, dict) else None
                _require(_is_finite_number(value), path,
                         f"field '{where}.metrics.{name}.value' must be a finite number, "
                         f"got {value!r}")
                samples = metric.get("samples", [])
                _require(isinstance(samples, list) and all(map(_is_finite_number, samples)),
                         path, f"field '{where}.metrics.{name}.samples' must be a list of "
                               f"finite numbers")
                tolerance = metric.get("tolerance")
                _require(tolerance is None or (isinstance(tolerance, dict) and _is_finite_number(
                    tolerance.get("rel_tol")) and tolerance["rel_tol"] >= 0), path,
                    f"field '{where}.metrics.{name}.tolerance.rel_tol' must be a number >= 0")


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Baseline:
    path: Path
    data: dict[str, Any]

    def values(self, section: str, key: str) -> dict[str, float] | None:
        references = self.references(section, key)
        if references is None:
            return None
        return {name: ref.value for name, ref in references.items()}

    def references(self, section: str, key: str) -> dict[str, Reference] | None:
        entry = self.data.get(section, {}).get(key)
        if entry is None:
            return None
        return {name: Reference(float(m["value"]), tuple(m.get("samples", ())),
                                m.get("tolerance"))
                for name, m in entry["metrics"].items()}

    def entry(self, section: str, key: str) -> dict[str, Any] | None:
        return self.data.get(section, {}).get(key)


class BaselineStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, profile: str, benchmark_id: str) -> Path:
        safe = "/".join(part.replace(os.sep, "_") for part in benchmark_id.split("/"))
        return self.root / profile / f"{safe}.json"

    def load(self, profile: str, benchmark_id: str) -> Baseline | None:
        path = self.path_for(profile, benchmark_id)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BaselineError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                                      f"{exc.msg}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(path, f"cannot be read: {exc}") from exc
        _validate(path, data)
        return Baseline(path, data)

    def write(self, profile: str, benchmark_id: str, result: Result,
              environment: dict[str, Any], provenance: dict[str, Any],
              existing: Baseline | None, calibrate: bool = False) -> Path:
        """Record ``result`` for this device class and hardware key, keeping entries of others.

        Each replaced entry's values and provenance are kept under ``previous``. Tolerances a
        ``--calibrate`` run derived stay with their metric until the next calibration; with
        ``calibrate`` they are derived again from this result's samples. If the benchmark's
        params changed, entries measured under the old params are dropped: they are not
        comparable any more.
        """
        path = self.path_for(profile, benchmark_id)
        digest = config_hash(result.suite, result.params)
        keep = existing is not None and existing.data.get("config_hash") == digest
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "benchmark_id": benchmark_id,
            "profile": profile,
            "suite": result.suite,
            "config_hash": digest,
            "params": result.params,
            "quality": dict(existing.data.get("quality", {})) if keep else {},
            "cost": dict(existing.data.get("cost", {})) if keep else {},
        }
        # A metric that must reproduce has no spread to calibrate on.
        seed_policy = SeedPolicy(result.repeats.get("seed_policy", SeedPolicy.SAME.value))
        for scope, section, key in ((Scope.QUALITY, "quality", environment["device_class"]),
                                    (Scope.COST, "cost", environment["hardware_key"])):
            old = data[section].get(key) or {}
            metrics = {}
            for name, metric in result.metrics.items():
                if metric.scope is not scope or not metric.compare or not metric.is_finite:
                    continue
                metrics[name] = metric.to_dict()
                old_tolerance = old.get("metrics", {}).get(name, {}).get("tolerance")
                tolerance = old_tolerance
                if calibrate and not must_reproduce(metric, seed_policy):
                    tolerance = calibrated_tolerance(metric.sample_values, old_tolerance)
                if tolerance is not None:
                    metrics[name]["tolerance"] = tolerance
            if not metrics:
                continue
            data[section][key] = {"metrics": metrics, "environment": environment,
                                  "provenance": provenance}
            if result.repeats:
                data[section][key]["repeats"] = result.repeats
            if old:
                data[section][key]["previous"] = {
                    "provenance": old.get("provenance", {}),
                    "values": {n: m["value"] for n, m in old["metrics"].items()}}
            curves = {name: result.artifacts[name] for name in BASELINE_ARTIFACTS
                      if name in result.artifacts}
            if section == "quality" and curves:
                data[section][key]["artifacts"] = curves
        atomic_write_text(path, canonical_json(data))
        return path


def compare_with_baseline(result: Result, baseline: Baseline, environment: dict[str, Any],
                          compare_cost: bool = True, alpha: float = DEFAULT_ALPHA,
                          nondeterministic: Collection[str] = ()) -> Comparison:
    quality_entry = baseline.entry("quality", environment["device_class"]) or {}
    context = Context(
        same_platform=env_info.same_platform(quality_entry.get("environment"), environment),
        same_seeds=_seed_set(quality_entry.get("repeats")) == _seed_set(result.repeats),
        alpha=alpha)
    cost_values = (baseline.references("cost", environment["hardware_key"]) if compare_cost
                   else None)
    return compare_metrics(result.metrics,
                           baseline.references("quality", environment["device_class"]),
                           cost_values, context, nondeterministic)


def _seed_set(repeats: dict[str, Any] | None) -> frozenset | None:
    """The seeds a side ran with; None for a single run with the profile's seed."""
    seeds = (repeats or {}).get("seeds")
    return frozenset(seeds) if seeds and len(set(seeds)) > 1 else None
