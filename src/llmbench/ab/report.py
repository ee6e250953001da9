"""What an A/B leaves behind: the terminal table, ``summary.md`` and ``results.json`` in the
report directory (the summary also on ``$GITHUB_STEP_SUMMARY``), and the history's A/B kind.

``results.json`` of an A/B says ``"kind": "ab"``: both sides (ref or interpreter, commit), the
settings, and per benchmark its outcome, its rounds (each side's rounds merged, every round a
sample) and one comparison row per metric with the paired change ("B vs A: +x % [lo, hi]").
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmbench.ab.rounds import ROUND_CAP, TIME_BUDGET, BenchmarkAB, Settings
from llmbench.ab.sides import Side
from llmbench.regression.verdicts import BENCHMARK_KINDS, KINDS, METRIC_KINDS, Outcome, Verdict
from llmbench.report.summary import format_number
from llmbench.report.tables import display_unit

AB_KIND = "ab"
AB_SCHEMA_VERSION = 1
QUIET = (Verdict.RECORDED,)
EXIT_OK, EXIT_REGRESSION, EXIT_ERROR = 0, 1, 2
# The plugin's words, said of B against A rather than of a run against its baseline.
AB_MEANINGS = {
    "pass": "B within the minimum effect of A",
    "improved": "B better than A beyond the minimum effect, the interval wholly on the better "
                "side",
    "regressed": "B worse than A beyond the minimum effect, the interval wholly on the worse "
                 "side; or a metric that must reproduce changed",
    "unconfirmed": "B worse beyond the minimum effect, suggestive but not significant: more "
                   "rounds (--max-rounds, --time-budget) confirm or clear it",
    "within noise": "beyond the minimum effect, but the rounds show no real shift",
    "error": "not compared: a side crashed or could not run, or only one side has the "
             "benchmark",
    "busy": "other work starved a side in every round: costs not judged",
}


def exit_code(benchmarks: Sequence[BenchmarkAB], errors: Sequence[str] = ()) -> int:
    """2 when anything could not be compared (an error, a run cut short), else 1 when a
    benchmark fails as it would in the plugin (regressed, failed, missing), else 0."""
    if errors or any(b.outcome is Outcome.ERROR for b in benchmarks):
        return EXIT_ERROR
    if any(b.outcome.fails for b in benchmarks):
        return EXIT_REGRESSION
    return EXIT_OK


def build_document(a: Side, b: Side, pytest_args: Sequence[str], settings: Settings,
                   benchmarks: Sequence[BenchmarkAB], errors: Sequence[str], wall_s: float,
                   commit: str | None = None) -> dict[str, Any]:
    return {
        "kind": AB_KIND, "schema_version": AB_SCHEMA_VERSION,
        "provenance": {"date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                       "git_commit": commit},
        "sides": {"A": a.to_dict(), "B": b.to_dict()},
        "pytest_args": list(pytest_args), "settings": settings.to_dict(),
        "wall_s": wall_s, "exit_code": exit_code(benchmarks, errors), "errors": list(errors),
        "benchmarks": [_benchmark(bench) for bench in benchmarks],
        "outcome_kinds": {k: v.__dict__ for k, v in BENCHMARK_KINDS.items()},
        "verdict_kinds": {k: v.__dict__ for k, v in METRIC_KINDS.items()},
    }


def _benchmark(bench: BenchmarkAB) -> dict[str, Any]:
    judgement = bench.judgement
    decided = bench.decided_after
    return {
        "nodeid": bench.nodeid, "benchmark_id": bench.benchmark_id, "profile": bench.profile,
        "device": bench.device, "outcome": bench.outcome.value, "reason": bench.reason,
        "rounds": bench.judged_rounds, "warmup": bench.warmup, "wall_s": bench.wall_s,
        "stopped_by": bench.stopped_by,
        "decided_after_rounds": decided[0] if decided else None,
        "decided_after_s": decided[1] if decided else None,
        "plays": bench.plays,
        "notes": judgement.notes if judgement else [],
        "comparison": {row.name: row.to_dict() for row in judgement.rows} if judgement else {},
        "a": judgement.a.to_dict() if judgement else None,
        "b": judgement.b.to_dict() if judgement else None,
        "environment": {"A": bench.env_a, "B": bench.env_b},
    }


def write_reports(document: dict[str, Any], report_dir: Path) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    results = report_dir / "results.json"
    tmp = results.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(results)
    summary = report_dir / "summary.md"
    text = render_summary(document)
    summary.write_text(text)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as out:
            out.write(text + "\n")
    return results, summary


# --- text ------------------------------------------------------------------------------------

def _side_line(name: str, side: dict[str, Any]) -> str:
    what = (f"git ref `{side['spec']}`" if side["kind"] == "ref"
            else f"interpreter `{side['python']}`")
    commit = f" @ `{(side.get('commit') or '')[:12]}`" if side.get("commit") else ""
    return f"* **{name}** ({'base' if name == 'A' else 'candidate'}): {what}{commit}, " \
           f"{side.get('llmbench', '')}"


def _header(bench: dict[str, Any]) -> str:
    outcome = bench["outcome"]
    where = bench["benchmark_id"] or bench["nodeid"]
    if bench["profile"]:
        where += f" [{bench['profile']}, {bench['device']}]"
    if bench["decided_after_rounds"] is not None:
        how = (f"decided after {bench['decided_after_rounds']} rounds "
               f"({bench['decided_after_s']:.0f} s)")
    elif bench["stopped_by"] in (ROUND_CAP, TIME_BUDGET):
        how = f"not decided, stopped by the {bench['stopped_by']}"
    else:
        how = ""
    rounds = (f"{bench['rounds']} rounds (+{bench['warmup']} warm-up), {bench['wall_s']:.0f} s"
              if bench["rounds"] else "")
    parts = ", ".join(p for p in (rounds, how) if p)
    return f"{where}: {outcome}" + (f"; {parts}" if parts else "")


def _rows(bench: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for name, row in sorted(bench["comparison"].items()):
        if row["verdict"] in [v.value for v in QUIET]:
            continue
        unit = row.get("unit", "")
        note = row.get("reason") or ("" if row.get("decided", True) else "undecided")
        rows.append((name, format_number(_num(row.get("baseline")), unit),
                     format_number(_num(row.get("current")), unit), display_unit(unit),
                     row.get("b_vs_a", ""), row["verdict"], note))
    return rows


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def terminal_lines(document: dict[str, Any]) -> list[str]:
    lines = []
    for bench in document["benchmarks"]:
        symbol = KINDS[bench["outcome"]].symbol
        lines.append(f"{symbol} {_header(bench)}")
        if bench["reason"]:
            lines.append(f"    {bench['reason']}")
        rows = [("metric", "A", "B", "unit", "B vs A [interval]", "verdict", "")]
        rows += [(n, a, b, u, c, f"{KINDS[v].symbol} {v}", note)
                 for n, a, b, u, c, v, note in _rows(bench)]
        if len(rows) > 1:
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            lines += ["    " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                      for r in rows]
        lines += [f"    note: {note}" for note in bench["notes"]]
    lines += [f"‼ {error}" for error in document["errors"]]
    tally = Counter(b["outcome"] for b in document["benchmarks"])
    lines.append(", ".join(f"{KINDS[k].symbol} {n} {k}" for k, n in sorted(tally.items()))
                 + f" in {document['wall_s']:.0f} s; exit {document['exit_code']}")
    return lines


def render_summary(document: dict[str, Any]) -> str:
    settings = document["settings"]
    out = ["# llmbench ab: B vs A", "",
           _side_line("A", document["sides"]["A"]), _side_line("B", document["sides"]["B"]),
           "", f"`pytest {' '.join(document['pytest_args'])}`; {settings['schedule']} rounds"
           f"{' (cold: fresh processes)' if settings['cold'] else ''}, minimum effect "
           f"{settings['min_effect']:.1%}, intervals at {1 - 2 * settings['alpha']:.1%} "
           f"(Wilcoxon, paired rounds), {settings['min_rounds']}-{settings['max_rounds']} "
           f"rounds, budget {settings['time_budget_s']:.0f} s; {document['wall_s']:.0f} s in "
           f"all.", ""]
    for error in document["errors"]:
        out += [f"🛑 {error}", ""]
    used: set[str] = set()
    for bench in document["benchmarks"]:
        used.add(bench["outcome"])
        out += [f"## {KINDS[bench['outcome']].emoji} {_header(bench)}", ""]
        if bench["reason"]:
            out += [bench["reason"], ""]
        rows = _rows(bench)
        if rows:
            out += ["| metric | A | B | unit | B vs A [interval] | verdict |",
                    "|---|---:|---:|---|---|---|"]
            for name, a, b, unit, change, verdict, note in rows:
                used.add(verdict)
                shown = f"{KINDS[verdict].emoji} {verdict}" + (f" ({note})" if note else "")
                out.append(f"| {name} | {a} | {b} | {unit} | {change} | {_escape(shown)} |")
            out.append("")
        out += [f"* {note}" for note in bench["notes"]]
        if bench["notes"]:
            out.append("")
    legend = " · ".join(f"{KINDS[k].emoji} {k}: {meaning(k)}" for k in KINDS
                        if k in used and KINDS[k].emoji)
    out += [f"Exit code {document['exit_code']}. A is the base, B the candidate; each round "
            "ran both, and noisy metrics are judged on the rounds' paired ratios B/A "
            "(Hodges-Lehmann estimate, Wilcoxon signed-rank interval, shown at "
            f"{1 - 2 * settings['alpha']:.1%}); a pass is decided when the 90 % interval lies "
            "within the minimum effect either way. Metrics that must reproduce are compared "
            "exactly, as against a baseline. " + legend]
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def meaning(kind: str) -> str:
    return AB_MEANINGS.get(kind, KINDS[kind].meaning)
