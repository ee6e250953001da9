"""One JSON baseline file per benchmark id: load, validate, compare, atomically rewrite.

Layout of a file::

    {
      "schema_version": 1,
      "benchmark_id": "lora_ranks/lora_rank/r8",
      "profile": "smoke",
      "suite": "lora",
      "config_hash": "…",                      # hash of the params below
      "params": {…},
      "quality": {"cpu": Entry, "cuda": Entry},  # per device class
      "cost": {"cpu/<model> x2": Entry, "cuda/NVIDIA H100 80GB HBM3": Entry}  # per hardware key
    }
    Entry = {"metrics": {name: metric dict}, "environment": {…}, "provenance": {…}}
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.compare import Comparison, compare_metrics
from llmbench.results import Result, Scope

SCHEMA_VERSION = 1
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
    _require(version == SCHEMA_VERSION, path,
             f"schema_version is {version!r}, expected {SCHEMA_VERSION}")
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
                _require(isinstance(value, (int, float)) and not isinstance(value, bool)
                         and math.isfinite(value), path,
                         f"field '{where}.metrics.{name}.value' must be a finite number, "
                         f"got {value!r}")


@dataclass
class Baseline:
    path: Path
    data: dict[str, Any]

    def values(self, section: str, key: str) -> dict[str, float] | None:
        entry = self.data.get(section, {}).get(key)
        if entry is None:
            return None
        return {name: float(m["value"]) for name, m in entry["metrics"].items()}

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
              existing: Baseline | None) -> Path:
        """Record ``result`` for this device class and hardware key, keeping entries of others.

        If the benchmark's params changed, entries measured under the old params are dropped:
        they are not comparable any more.
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
        for scope, section, key in ((Scope.QUALITY, "quality", environment["device_class"]),
                                    (Scope.COST, "cost", environment["hardware_key"])):
            metrics = {name: m.to_dict() for name, m in result.metrics.items()
                       if m.scope is scope and m.compare and m.is_finite}
            if metrics:
                data[section][key] = {"metrics": metrics, "environment": environment,
                                      "provenance": provenance}
                curves = {name: result.artifacts[name] for name in BASELINE_ARTIFACTS
                          if name in result.artifacts}
                if section == "quality" and curves:
                    data[section][key]["artifacts"] = curves
        atomic_write_text(path, canonical_json(data))
        return path


def compare_with_baseline(result: Result, baseline: Baseline, environment: dict[str, Any],
                          compare_cost: bool = True) -> Comparison:
    cost_values = baseline.values("cost", environment["hardware_key"]) if compare_cost else None
    return compare_metrics(result.metrics,
                           baseline.values("quality", environment["device_class"]),
                           cost_values)
