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
    Entry = {"metrics": {name: metric dict (value, samples, noise from --calibrate)},
             "repeats": {"count", "seeds", "seed_policy"},
             "environment": {…},                 # hardware key, packages, threads
             "provenance": {commit, dirty, date, author, reason},
             "previous": {"provenance": {…}, "values": {name: value}}}  # what this replaced

Version 1 and 2 files are still read (2 kept calibration under "tolerance"; 3 calls it "noise").

Writes are safe under concurrency: the file is locked, re-read and merged under the lock (so two
runs on different hardware both keep their entries), then atomically replaced. A result with a
NaN, or a metric that did not reproduce, is refused: the old file stays byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.core.files import atomic_write_text, locked
from llmbench.regression.compare import Reference
from llmbench.regression.repeats import SeedPolicy, must_reproduce
from llmbench.regression.results import Result, Scope
from llmbench.regression.stats import calibrated_noise, noise_applies

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# Result artifacts kept beside the quality metrics, for the report only (never compared):
# the baseline's loss curve is drawn dashed under the current one.
BASELINE_ARTIFACTS = ("loss_curve",)


class BaselineError(Exception):
    """A baseline file exists but cannot be used (bad JSON or wrong shape)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"baseline file {path}: {problem}")
        self.path = path
        self.problem = problem


class BaselineWriteError(BaselineError):
    """The baseline could not be written (read-only directory, disk full, lock held...)."""


class BaselineRefused(BaselineError):
    """The result must not become a baseline (NaN, a metric that did not reproduce)."""


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def config_hash(suite: str, params: dict[str, Any]) -> str:
    payload = json.dumps({"suite": suite, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def refusals(result: Result) -> list[str]:
    """Why ``result`` must not be written as a baseline; empty when it may."""
    problems = [f"{name}: should reproduce across repeats with seeds "
                f"{result.repeats.get('seeds')} but gave {values}"
                for name, values in sorted(result.nondeterministic.items())]
    problems += [f"{name}: value is {metric.value} (not a finite number)"
                 for name, metric in sorted(result.metrics.items())
                 if metric.compare and not metric.is_finite]
    return problems


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
                items = metric.get("items", {})
                _require(isinstance(items, dict) and all(map(_is_finite_number, items.values())),
                         path, f"field '{where}.metrics.{name}.items' must map item ids to finite "
                               f"numbers")
                for key in ("noise", "tolerance"):
                    noise = metric.get(key)
                    _require(noise is None or (isinstance(noise, dict) and all(
                        _is_finite_number(noise.get(f, 0.0)) and noise.get(f, 0.0) >= 0
                        for f in ("within_cv", "between_cv"))), path,
                        f"field '{where}.metrics.{name}.{key}' must hold within_cv and "
                        f"between_cv as numbers >= 0")


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
        return {name: Reference(float(m["value"]), tuple(m.get("samples", ())), _noise_of(m),
                                m.get("items"))
                for name, m in entry["metrics"].items()}

    def entry(self, section: str, key: str) -> dict[str, Any] | None:
        return self.data.get(section, {}).get(key)

    def speed_probe_ms(self, hardware_key: str, version: int) -> float | None:
        """The machine-speed probe measured with this hardware's cost values (same probe
        version), or None for baselines recorded before probes existed."""
        probe = (self.entry("cost", hardware_key) or {}).get("speed_probe") or {}
        ms = probe.get("ms")
        return float(ms) if probe.get("version") == version and _is_finite_number(ms) else None


def _noise_of(metric: dict[str, Any]) -> dict[str, Any] | None:
    """Calibrated noise of a stored metric (schema 2 kept it under "tolerance")."""
    noise = metric.get("noise") or metric.get("tolerance")
    return noise if noise and "within_cv" in noise else None


class BaselineStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, profile: str, benchmark_id: str) -> Path:
        safe = "/".join(part.replace(os.sep, "_") for part in benchmark_id.split("/"))
        return self.root / profile / f"{safe}.json"

    def load(self, profile: str, benchmark_id: str) -> Baseline | None:
        return self.load_path(self.path_for(profile, benchmark_id))

    @staticmethod
    def load_path(path: Path) -> Baseline | None:
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
              calibrate: bool = False) -> Path:
        """Record ``result`` for this device class and hardware key, keeping entries of others.

        The file is re-read under its lock, so entries another process wrote since this run
        started are kept. Each replaced entry's values and provenance are kept under
        ``previous``. Calibrated noise stays with its metric until the next calibration, on the
        CPU it was measured on (``cpu_signature``; on another it is dropped); with ``calibrate``
        it is measured again from this result's samples. Metrics this run could
        not compute (``result.unavailable``) keep their old values. If the benchmark's params
        changed, entries measured under the old params are dropped: they are not comparable.

        Raises ``BaselineRefused`` (NaN, not reproducible: nothing is written) and
        ``BaselineWriteError`` (the file system said no: path and reason).
        """
        path = self.path_for(profile, benchmark_id)
        problems = refusals(result)
        if problems:
            raise BaselineRefused(path, "refusing to write it; these metrics cannot be a "
                                        "baseline:\n  " + "\n  ".join(problems))
        try:
            with locked(path):
                existing = self.load_path(path)  # now, under the lock: keep others' entries
                data = _merged(existing, profile, benchmark_id, result, environment,
                               provenance, calibrate)
                atomic_write_text(path, canonical_json(data))
        except BaselineError:
            raise
        except OSError as exc:
            raise BaselineWriteError(path, f"cannot be written: {_os_reason(exc)}") from None
        return path


def _os_reason(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.strerror} ({exc.filename})"
    return exc.strerror or str(exc)


def _merged(existing: Baseline | None, profile: str, benchmark_id: str, result: Result,
            environment: dict[str, Any], provenance: dict[str, Any],
            calibrate: bool) -> dict[str, Any]:
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
        old_metrics = old.get("metrics", {})
        metrics = {}
        for name, metric in result.metrics.items():
            if metric.scope is not scope or not metric.compare:
                continue
            metrics[name] = metric.to_dict()
            noise = _noise_of(old_metrics.get(name, {}))
            if noise is not None and not noise_applies(noise, environment.get("cpu_signature")):
                noise = None  # measured on another CPU: it says nothing about this one
            if calibrate and not must_reproduce(metric, seed_policy):
                noise = calibrated_noise(metric.sample_values, noise)
                if noise is not None:
                    noise["cpu_signature"] = environment.get("cpu_signature")
            if noise is not None:
                metrics[name]["noise"] = noise
        carried = {name: old_metrics[name] for name in result.unavailable
                   if name in old_metrics and name not in metrics}
        if not metrics:
            continue
        metrics.update(carried)
        data[section][key] = {"metrics": metrics, "environment": environment,
                              "provenance": provenance}
        if section == "cost" and "speed_probe_ms" in result.machine:
            data[section][key]["speed_probe"] = {
                "ms": result.machine["speed_probe_ms"],
                "version": result.machine.get("speed_probe_version")}
        if carried:
            data[section][key]["kept_unavailable"] = {
                name: result.unavailable[name] for name in sorted(carried)}
        if result.repeats:
            data[section][key]["repeats"] = result.repeats
        if old:
            data[section][key]["previous"] = {
                "provenance": old.get("provenance", {}),
                "values": {n: m["value"] for n, m in old_metrics.items()}}
        curves = {name: result.artifacts[name] for name in BASELINE_ARTIFACTS
                  if name in result.artifacts}
        if section == "quality" and curves:
            data[section][key]["artifacts"] = curves
    return data
