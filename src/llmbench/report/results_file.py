"""results.json: every benchmark of the run with metrics, verdicts, environment, provenance."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llmbench.core.files import atomic_write_text
from llmbench.core.redaction import redact_data, redact_secrets
from llmbench.regression import environment
from llmbench.regression.verdicts import BENCHMARK_KINDS, METRIC_KINDS

RESULTS_SCHEMA_VERSION = 2


def build_results(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "outcome_kinds": {
            "benchmark": {name: asdict(kind) for name, kind in BENCHMARK_KINDS.items()},
            "metric": {name: asdict(kind) for name, kind in METRIC_KINDS.items()}},
        "provenance": environment.provenance(),
        **({"layout": layout} if (layout := run_layout(records)) else {}),
        "benchmarks": sorted(records, key=lambda r: (str(r.get("benchmark_id")),
                                                     str(r.get("device")))),
    }


def run_layout(records: list[dict[str, Any]]) -> dict[str, Any]:
    """How the run used the machine: pytest processes, torch threads each, the machine's
    cores, and the range of its speed probes (what its timings compare with)."""
    envs = [r.get("environment") or {} for r in records if isinstance(r, dict)]
    probes = [m["speed_probe_ms"] for r in records if isinstance(r, dict)
              if isinstance(m := (r.get("result") or {}).get("machine") or {}, dict)
              and isinstance(m.get("speed_probe_ms"), (int, float))]
    threads = sorted({e["torch_threads"] for e in envs if e.get("torch_threads")})
    if not envs or not threads:
        return {}
    out: dict[str, Any] = {"workers": max(environment.layout(e)[0] for e in envs),
                           "torch_threads": threads,
                           "cores": max(int(e.get("cpu_count") or 0) for e in envs)}
    if probes:
        out["speed_probe_ms"] = [min(probes), max(probes)]
    return out


def write_results(report_dir: Path, results: dict[str, Any]) -> Path:
    """Write results.json, every string redacted (``llmbench.core.redaction``): whatever the
    caller passes, no API key reaches the file."""
    path = Path(report_dir) / "results.json"
    text = json.dumps(redact_data(results), indent=2, sort_keys=True, default=str)
    atomic_write_text(path, redact_secrets(text) + "\n")
    return path


def load_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read results file {path}: {exc}") from exc
    if not isinstance(data, dict) or "benchmarks" not in data:
        raise ValueError(f"results file {path}: missing field 'benchmarks'")
    return data
