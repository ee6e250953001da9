"""summary.md: one markdown table per benchmark, grouped by suite, with verdicts and deltas.

The same text (without the image links, which a CI page cannot resolve) is appended to
``$GITHUB_STEP_SUMMARY`` when that variable is set.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from llmbench.regression.verdicts import BENCHMARK_KINDS, KINDS
from llmbench.report.judges import summary_notes
from llmbench.report.tables import Cell, Table, display_value

FAILING = tuple(kind for kind, k in BENCHMARK_KINDS.items() if k.fails)
PACKAGES_SHOWN = ("torch", "transformers", "peft", "bitsandbytes", "sentence-transformers")
QUIET_VERDICTS = ("pass", "recorded", "not compared")


def mark(kind: str | None) -> str:
    return KINDS[kind].emoji if kind in KINDS else ""


def legend(used: set[str]) -> str:
    """What the marks in this summary mean (only those that appear)."""
    parts = [f"{KINDS[k].emoji} {k}: {KINDS[k].meaning}" for k in KINDS
             if k in used and KINDS[k].emoji]
    return ("Cells show the value and, in brackets, its change against the baseline. "
            + " · ".join(parts) + ". Cost metrics (time, memory, throughput) are compared only "
            "against a baseline from the same hardware. Sizes in bytes are shown in MiB.")


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
    if cell.verdict in ("missing", "unavailable") and cell.value is None:
        return f"{cell.verdict} {mark(cell.verdict)}"
    text = format_number(cell.value, cell.unit)
    rel = cell.relative_change
    if rel is not None:
        text += f" ({rel:+.1%})"
    elif cell.change is not None:
        text += f" ({cell.change:+.3g})"
    shown = mark(cell.verdict) if cell.verdict not in QUIET_VERDICTS else ""
    return f"{text} {shown}" if shown else text


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_table(table: Table, *, extra: bool = False) -> str:
    """The table users write (rank / precision / experiment rows); with ``extra``, the same
    rows with the metrics the layout does not place."""
    columns = table.extra_columns if extra else table.columns
    header = [table.layout.label, *([] if extra else ["Verdict", "Time (s)"]),
              *(c.title for c in columns)]
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |",
             "|" + "|".join(["---"] * (1 if extra else 2) + ["---:"] * (len(columns)
                                                                   + (0 if extra else 1))) + "|"]
    for row in table.rows:
        seconds = row.record.get("duration_s")
        verdict = [] if extra else [f"{mark(row.outcome)} {row.outcome}".strip(),
                                    f"{seconds:.1f}" if isinstance(seconds, (int, float))
                                    else "—"]
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


def _layout_line(layout: dict[str, Any]) -> str:
    if not layout:
        return ""
    threads = "/".join(str(t) for t in layout.get("torch_threads") or [])
    line = (f"Layout: {layout.get('workers', 1)} worker(s) x {threads} torch thread(s) on "
            f"{layout.get('cores')} cores")
    probe = layout.get("speed_probe_ms")
    if probe:
        line += f"; speed probe {probe[0]:.2f}–{probe[1]:.2f} ms"
    return line


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
    tally = " · ".join(f"{mark(k)} {n} {k}" for k, n in sorted(counts.items()))
    out = ["# llmbench report", "",
           f"**{len(records)} benchmark(s)**: {tally}" if records else "No benchmarks recorded.",
           ""]
    for line in [_provenance_line(results.get("provenance") or {}),
                 *_environment_lines([r for r in records if isinstance(r, dict)]),
                 _layout_line(results.get("layout") or {})]:
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
        out += _ranking(table)
        out += _top1_disagreement(table)
        for image in (plots or {}).get(table.key, []):
            out += [f"![{image.stem}]({image.as_posix()})", ""]
    if tables:
        used = set(counts) | {cell.verdict for table in tables for row in table.rows
                              for cell in row.cells.values() if cell.verdict}
        out += [f"<sub>{legend(used)}</sub>", ""]
    out += _details(records, problems)
    return "\n".join(out).rstrip() + "\n"


def _ranking(table: Table) -> list[str]:
    """RAG configurations ranked by the mean of their min-max normalized quality scores."""
    results = [row.record.get("result") for row in table.rows]
    usable = [r for r in results if r and (r.get("artifacts") or {}).get("config")]
    if table.suite != "rag" or len(usable) < 2:
        return []
    from llmbench.report.ranking import DEFAULT_RANKING_METRICS, rank_rag_results

    ranked = rank_rag_results(usable)
    lines = [f"Ranking (mean of min-max normalized {', '.join(DEFAULT_RANKING_METRICS)}; "
             "1 = best on every score):", "", "| # | Configuration | Score |", "|---:|---|---:|"]
    lines += [f"| {r.rank} | {_escape(r.name)} | {format_number(r.score)} |" for r in ranked]
    return lines + [""]


def _top1_disagreement(table: Table) -> list[str]:
    """Retrievers that kept each question's ranking (test_retrieval_quality): how often two of
    them put a different document first."""
    kept = {row.label: row.artifact("rankings") for row in table.rows}
    kept = {label: rows for label, rows in kept.items() if rows}
    if table.suite != "rag" or len(kept) < 2:
        return []
    from llmbench.suites.rag.rankings import rankings_of, top1_disagreement

    rankings = {label: rankings_of(rows) for label, rows in kept.items()}
    labels = sorted(rankings)
    pairs = [f"{a} vs {b} {top1_disagreement(rankings[a], rankings[b]):.0%}"
             for i, a in enumerate(labels) for b in labels[i + 1:]]
    return ["Top-1 disagreement (share of the questions whose first document differs): "
            + ", ".join(pairs) + ".", ""]


def _time_section(records: list[dict[str, Any]]) -> list[str]:
    """Each benchmark's wall time and where it went (phases the runner measured)."""
    timed = [r for r in records if isinstance(r, dict)
             and isinstance(r.get("duration_s"), (int, float))]
    if not timed:
        return []
    total = sum(r["duration_s"] for r in timed)
    out = ["## Where the time goes", "", f"{len(timed)} benchmark(s), {total:.1f} s in all.", "",
           "| Benchmark | Device | Time (s) | Phases (s, summed over repeats) |",
           "|---|---|---:|---|"]
    for rec in sorted(timed, key=lambda r: -r["duration_s"]):
        phases = ((rec.get("result") or {}).get("phases") or {})
        shown = ", ".join(f"{name} {seconds:.1f}" for name, seconds in phases.items())
        out.append(f"| `{rec.get('benchmark_id')}` | {rec.get('device')} | "
                   f"{rec['duration_s']:.1f} | {shown or '—'} |")
    return out + [""]


def _details(records: list[dict[str, Any]], problems: list[str]) -> list[str]:
    out: list[str] = _time_section(records)
    noted = [r for r in records if isinstance(r, dict) and (r.get("message") or r.get("reason"))
             and r.get("outcome") not in ("pass", "updated")]
    if noted:
        out += ["## What moved", ""]
        for rec in sorted(noted, key=lambda r: (r.get("outcome") not in FAILING,
                                                 str(r.get("benchmark_id")))):
            why = f" ({_escape(rec['reason'])})" if rec.get("reason") else ""
            out += [f"<details><summary>{mark(rec.get('outcome'))} <code>"
                    f"{rec.get('benchmark_id')}</code> [{rec.get('device')}]: "
                    f"{rec.get('outcome')}{why}</summary>", "",
                    "```", str(rec.get("message") or rec.get("reason")).strip(), "```",
                    "</details>", ""]
    if problems:
        out += ["## Report problems", ""] + [f"* {_escape(p)}" for p in problems] + [""]
    return out
