"""summary.md: one markdown table per benchmark, grouped by suite, with verdicts and deltas.

The same text (without the image links, which a CI page cannot resolve) is appended to
``$GITHUB_STEP_SUMMARY`` when that variable is set.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from llmbench.report.judges import summary_notes
from llmbench.report.tables import Cell, Table, display_value

OUTCOME_MARKS = {
    "pass": "✅",
    "improved": "✨",
    "regressed": "❌",
    "not comparable": "⚠️",
    "no baseline": "⚠️",
    "updated": "📝",
    "error": "💥",
}
VERDICT_MARKS = {"regressed": "❌", "invalid": "❌", "missing": "❌", "nondeterministic": "❌",
                 "improved": "✨", "new": "🆕", "within noise": "〰️"}
FAILING = ("regressed", "not comparable", "no baseline", "error")
PACKAGES_SHOWN = ("torch", "transformers", "peft", "bitsandbytes", "sentence-transformers")
LEGEND = (
    "Cells show the value and, in brackets, its change against the baseline. "
    "✅ pass · ✨ improved beyond tolerance (consider `--update-baselines`) · "
    "❌ regressed, missing, not finite or not reproducible · 🆕 not in the baseline · "
    "〰️ beyond tolerance but not statistically significant (within noise) · "
    "⚠️ no baseline / not comparable · 📝 baseline rewritten · 💥 error. "
    "Cost metrics (time, memory, throughput) are compared only against a baseline from the "
    "same hardware; without one they show no change. Sizes in bytes are shown in MiB."
)


def format_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    shown = display_value(value, unit)
    if unit == "bytes":  # MiB: one decimal for big models, significant digits for tiny ones
        return f"{shown:,.1f}" if abs(shown) >= 100 else f"{shown:.4g}"
    if float(shown).is_integer() and abs(shown) < 1e15:
        return f"{int(shown):,}"
    if abs(shown) >= 1000:
        return f"{shown:,.0f}"
    return f"{shown:.4g}"


def format_cell(cell: Cell | None) -> str:
    if cell is None:
        return ""
    if cell.verdict == "missing":
        return "missing ❌"
    text = format_number(cell.value, cell.unit)
    rel = cell.relative_change
    if rel is not None:
        text += f" ({rel:+.1%})"
    elif cell.change is not None:
        text += f" ({cell.change:+.3g})"
    mark = VERDICT_MARKS.get(cell.verdict or "")
    return f"{text} {mark}" if mark else text


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_table(table: Table, *, extra: bool = False) -> str:
    """The table users write (rank / precision / experiment rows); with ``extra``, the same
    rows with the metrics the layout does not place."""
    columns = table.extra_columns if extra else table.columns
    header = [table.layout.label, *([] if extra else ["Verdict"]), *(c.title for c in columns)]
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |",
             "|" + "|".join(["---"] * (1 if extra else 2) + ["---:"] * len(columns)) + "|"]
    for row in table.rows:
        verdict = [] if extra else [f"{OUTCOME_MARKS.get(row.outcome, '')} {row.outcome}".strip()]
        cells = [format_cell(row.cells.get(c.header)) for c in columns]
        lines.append("| " + " | ".join(_escape(x) for x in [row.label, *verdict, *cells]) + " |")
    return "\n".join(lines)


def _environment_lines(records: list[dict[str, Any]]) -> list[str]:
    envs = [r.get("environment") or {} for r in records]
    hardware = sorted({e["hardware_key"] for e in envs if e.get("hardware_key")})
    packages = next((e["packages"] for e in envs if e.get("packages")), {})
    lines = []
    if hardware:
        lines.append("Hardware: " + "; ".join(f"`{h}`" for h in hardware))
    shown = [f"{name} {packages[name]}" for name in PACKAGES_SHOWN if packages.get(name)]
    python = next((e["python"] for e in envs if e.get("python")), None)
    if python:
        shown.insert(0, f"Python {python}")
    if shown:
        lines.append("Versions: " + ", ".join(shown))
    return lines


def _provenance_line(provenance: dict[str, Any]) -> str:
    commit = provenance.get("git_commit")
    parts = []
    if commit:
        dirty = " (uncommitted changes)" if provenance.get("git_dirty") else ""
        parts.append(f"commit `{commit[:12]}`{dirty}")
    if provenance.get("date"):
        parts.append(f"run {provenance['date']}")
    return "Run: " + ", ".join(parts) if parts else ""


def render_summary(results: dict[str, Any], tables: list[Table], problems: list[str],
                   plots: dict[str, list[Path]] | None = None) -> str:
    """The whole summary.md; ``plots`` maps a table key to image paths relative to it."""
    records = results.get("benchmarks") or []
    counts = Counter(str(r.get("outcome") or "unreadable") if isinstance(r, dict) else
                     "unreadable" for r in records)
    tally = " · ".join(f"{OUTCOME_MARKS.get(k, '')} {n} {k}" for k, n in sorted(counts.items()))
    out = ["# llmbench report", "",
           f"**{len(records)} benchmark(s)**: {tally}" if records else "No benchmarks recorded.",
           ""]
    for line in [_provenance_line(results.get("provenance") or {}),
                 *_environment_lines([r for r in records if isinstance(r, dict)])]:
        if line:
            out += [line, ""]
    current_suite = None
    for table in tables:
        if table.suite != current_suite:
            current_suite = table.suite
            out += [f"## {table.layout.title}", ""]
        out += [f"### `{table.benchmark}` · {table.device} · profile `{table.profile}`", "",
                render_table(table), ""]
        out += [line for note in summary_notes(row.record for row in table.rows)
                for line in (note, "")]
        if table.extra_columns:
            out += ["<details><summary>Other metrics</summary>", "",
                    render_table(table, extra=True), "", "</details>", ""]
        for image in (plots or {}).get(table.key, []):
            out += [f"![{image.stem}]({image.as_posix()})", ""]
    if tables:
        out += [f"<sub>{LEGEND}</sub>", ""]
    out += _details(records, problems)
    return "\n".join(out).rstrip() + "\n"


def _details(records: list[dict[str, Any]], problems: list[str]) -> list[str]:
    out: list[str] = []
    noted = [r for r in records if isinstance(r, dict) and r.get("message")
             and r.get("outcome") not in ("pass", "updated")]
    if noted:
        out += ["## What moved", ""]
        for rec in sorted(noted, key=lambda r: (r.get("outcome") not in FAILING,
                                                 str(r.get("benchmark_id")))):
            mark = OUTCOME_MARKS.get(rec.get("outcome"), "")
            out += [f"<details><summary>{mark} <code>{rec.get('benchmark_id')}</code> "
                    f"[{rec.get('device')}]: {rec.get('outcome')}</summary>", "",
                    "```", str(rec["message"]).strip(), "```", "</details>", ""]
    if problems:
        out += ["## Report problems", ""] + [f"* {_escape(p)}" for p in problems] + [""]
    return out
