"""Plain-text tables for the terminal: a failed benchmark's rows and the run's summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from llmbench.regression.compare import MetricComparison
from llmbench.regression.verdicts import KINDS, Outcome


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.6g}"


def render_rows(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(rows: Sequence[MetricComparison]) -> str:
    """The rows that moved; ``n`` is samples current/baseline, ``test`` how it was decided."""
    table = [("metric", "baseline", "current", "change", "allowed", "n", "test / reason",
              "verdict")]
    for row in rows:
        rel = row.relative_change
        change = "-" if row.change is None else f"{row.change:+.6g}"
        change += f" ({rel:+.1%})" if rel is not None else ""
        allowed = _fmt(row.allowed) + (f" ({row.tolerance})" if row.tolerance else "")
        table.append((row.name + (f" [{row.unit}]" if row.unit else ""), _fmt(row.baseline),
                      _fmt(row.current), change, allowed, f"{row.n_current}/{row.n_baseline}",
                      "; ".join(text for text in (row.reason, row.test) if text) or "-",
                      f"{row.verdict.symbol} {row.verdict.value}"))
    return render_rows(table)


REASON_FIRST = ("busy", "not compared", "unavailable", "new", "not comparable", "error",
                "failed")


def _moved(record: dict[str, Any]) -> str:
    """Metric verdicts worth a glance, e.g. 'runtime_s ✗ +24%, meteor ∅', or the reason when
    the outcome is about the whole benchmark (busy machine, nothing compared, ...)."""
    if record.get("outcome") in REASON_FIRST and record.get("reason"):
        return record["reason"]
    parts = []
    for name, row in sorted((record.get("comparison") or {}).items()):
        verdict = row.get("verdict")
        if verdict in ("pass", "recorded", "not compared"):
            continue
        text = f"{name} {KINDS[verdict].symbol}" if verdict in KINDS else f"{name} {verdict}"
        current, baseline = row.get("current"), row.get("baseline")
        if isinstance(current, (int, float)) and isinstance(baseline, (int, float)) and baseline:
            text += f" {(current - baseline) / abs(baseline):+.0%}"
        parts.append(text)
    if not parts and record.get("reason"):
        return record["reason"]
    return ", ".join(parts)


def summary_lines(records: Sequence[dict[str, Any]], width: int = 60) -> list[str]:
    """The run summary: one row per benchmark, then the tally and a legend of the symbols."""
    rows = [("benchmark", "profile", "device", "verdict", "time", "moved / why")]
    for rec in sorted(records, key=lambda r: (r["benchmark_id"], r["device"])):
        outcome = Outcome(rec["outcome"])
        seconds = rec.get("duration_s")
        rows.append((rec["benchmark_id"], rec["profile"], rec["device"],
                     f"{outcome.symbol} {outcome.value}",
                     f"{seconds:.1f}s" if seconds is not None else "-",
                     _moved(rec)[:width]))
    lines = [render_rows(rows), ""]
    counts = Counter(rec["outcome"] for rec in records)
    lines.append(" · ".join(f"{KINDS[k].symbol} {n} {k}" for k, n in sorted(counts.items())))
    explained = [f"{KINDS[k].symbol} {k}: {KINDS[k].meaning}" for k in sorted(counts)
                 if k != "pass"]
    if explained:
        lines.append("legend: " + "; ".join(explained))
    return lines
