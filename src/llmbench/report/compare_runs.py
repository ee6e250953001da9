"""Two results.json side by side: one markdown row per (benchmark, device, metric)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from llmbench.report.summary import format_number

Key = tuple[str, str, str]  # benchmark_id, profile, device


def _index(results: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    out = {}
    for rec in results.get("benchmarks") or []:
        out[(rec["benchmark_id"], rec["profile"], rec["device"])] = rec
    return out


def _metrics(record: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return ((record or {}).get("result") or {}).get("metrics") or {}


def _value(metric: dict[str, Any] | None) -> float | None:
    if not metric or metric.get("value") is None:
        return None
    return float(metric["value"])  # "nan" / "inf" strings parse too


def judge(a: float | None, b: float | None, metric: dict[str, Any]) -> str:
    """How B stands against A under the metric's own direction and tolerance."""
    if a is None:
        return "only in B"
    if b is None:
        return "only in A"
    if not (math.isfinite(a) and math.isfinite(b)):
        return "not finite"
    if not metric.get("compare", True):
        return "info (not compared)"
    allowed = max(float(metric.get("abs_tol", 0.0)), float(metric.get("rel_tol", 0.0)) * abs(a))
    delta = b - a
    if abs(delta) <= allowed:
        return "≈ within tolerance"
    direction = metric.get("direction", "lower")
    if direction == "exact":
        return "changed"
    better = delta < 0 if direction == "lower" else delta > 0
    return "better" if better else "worse"


def _change(a: float | None, b: float | None, unit: str) -> str:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return ""
    text = format_number(b - a, unit)
    text = text if text.startswith("-") else "+" + text
    return text + (f" ({(b - a) / abs(a):+.1%})" if a else "")


def _run_line(name: str, label: str, results: dict[str, Any]) -> str:
    prov = results.get("provenance") or {}
    commit = (prov.get("git_commit") or "no commit")[:12]
    dirty = ", uncommitted changes" if prov.get("git_dirty") else ""
    return f"* **{name}**: `{label}` (commit `{commit}`{dirty}, {prov.get('date', 'no date')})"


def compare_runs(a: dict[str, Any], b: dict[str, Any], *, label_a: str = "A",
                 label_b: str = "B", changed_only: bool = False) -> str:
    index_a, index_b = _index(a), _index(b)
    rows = []
    tally: Counter[str] = Counter()
    for key in sorted(set(index_a) | set(index_b)):
        metrics_a, metrics_b = _metrics(index_a.get(key)), _metrics(index_b.get(key))
        for name in sorted(set(metrics_a) | set(metrics_b)):
            ma, mb = metrics_a.get(name), metrics_b.get(name)
            va, vb = _value(ma), _value(mb)
            verdict = judge(va, vb, mb or ma or {})
            tally[verdict] += 1
            if changed_only and verdict.startswith(("≈", "info")):
                continue
            unit = (mb or ma or {}).get("unit", "")
            shown_unit = "MiB" if unit == "bytes" else unit
            benchmark, profile, device = key
            rows.append(f"| {benchmark} | {profile} | {device} | {name} | {shown_unit} "
                        f"| {format_number(va, unit)} | {format_number(vb, unit)} "
                        f"| {_change(va, vb, unit)} | {verdict} |")
    out = ["# llmbench compare", "", _run_line("A", label_a, a), _run_line("B", label_b, b), ""]
    if rows:
        out += ["| benchmark | profile | device | metric | unit | A | B | B − A | B vs A |",
                "|---|---|---|---|---|---:|---:|---:|---|", *rows, ""]
    else:
        out += ["No metrics to show.", ""]
    out.append("Metrics: " + ", ".join(f"{n} {v}" for v, n in sorted(tally.items())) + ". "
               "Tolerances are the metrics' own (from B); sizes in bytes are shown in MiB.")
    return "\n".join(out) + "\n"
