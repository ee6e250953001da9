"""Two results.json side by side: one markdown row per (benchmark, device, metric).

Each metric of B is judged against A with ``regression.compare.compare_metric``: the same rule,
noise model and verdict words as a baseline check (regressed, unconfirmed, within noise, ...).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from llmbench.regression.compare import Context, Reference, compare_metric
from llmbench.regression.environment import same_platform
from llmbench.regression.results import Metric
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


def judge(metric_a: dict[str, Any] | None, metric_b: dict[str, Any] | None,
          context: Context) -> str:
    """How B's metric stands against A's, by the same rule the plugin applies to a baseline
    (A plays the baseline: its value, samples and calibrated noise)."""
    if metric_a is None:
        return "only in B"
    if metric_b is None:
        return "only in A"
    a = _value(metric_a)
    reference = Reference(a, tuple(float(s) for s in metric_a.get("samples") or ()),
                          metric_a.get("noise"))
    if a is None or not math.isfinite(a):
        return "A not finite"
    return compare_metric("", Metric.from_dict(metric_b), reference, context).verdict.value


def _context(rec_a: dict[str, Any] | None, rec_b: dict[str, Any] | None) -> Context:
    env_a, env_b = (rec_a or {}).get("environment"), (rec_b or {}).get("environment")
    seeds = [tuple(sorted(set(((r or {}).get("result") or {}).get("repeats", {})
                              .get("seeds", []) or [])))
             for r in (rec_a, rec_b)]
    device = ((rec_b or rec_a or {}).get("device") or "cpu")
    return Context(same_platform=same_platform(env_a, env_b), same_seeds=seeds[0] == seeds[1],
                   device_class="cuda" if device.startswith("cuda") else "cpu")


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
        context = _context(index_a.get(key), index_b.get(key))
        for name in sorted(set(metrics_a) | set(metrics_b)):
            ma, mb = metrics_a.get(name), metrics_b.get(name)
            va, vb = _value(ma), _value(mb)
            verdict = judge(ma, mb, context)
            tally[verdict] += 1
            if changed_only and verdict in ("pass", "recorded", "within noise"):
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
               "Judged by the rule the plugin applies to baselines (A as the baseline, B's "
               "tolerances); sizes in bytes are shown in MiB.")
    return "\n".join(out) + "\n"
