"""Does the gate catch real regressions, and stay quiet on unchanged code? Measured end to end.

    python -m llmbench.tools.detection_study -k "lora_rank and r8" --runs 10 \\
        --sizes 0,0.05,0.1,0.25,1.0 --repeats auto,5 --out docs/regression-study/smoke.md

For every injected size (0 = unchanged code) and repeat setting, it runs
``pytest benchmarks --bench-profile PROFILE -p llmbench.tools.inject --inject-slowdown SIZE``
``--runs`` times, each a fresh process against the committed baselines, and counts how many
runs the selected benchmarks failed (detections; false alarms for size 0) and how many were
flagged "unconfirmed", "improved" or "busy". Pytest arguments after ``--`` pass through (the
kind of slowdown: ``-- --inject-how wait --inject-into backward``). ``--competitors N`` keeps
N CPU-bound processes running beside every run: a genuinely busy machine. Run it on a quiet
machine with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmbench.report.tables import row_cells

FAILING = ("regressed", "failed", "missing", "not comparable", "new", "error")


@contextlib.contextmanager
def competing(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound Python processes, for as long as the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(processes)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def one_run(profile: str, select: str, size: float, repeats: str, extra: list[str],
            metric: str = "") -> dict[str, dict[str, Any]]:
    """benchmark id -> {"outcome", "why"} for one pytest run (why: the reason, or the first
    lines of the message, for anything but a pass); with ``metric``, also "change": its
    relative change against the baseline in this run (None when not compared)."""
    with tempfile.TemporaryDirectory() as report:
        command = [sys.executable, "-m", "pytest", "benchmarks", "--bench-profile", profile,
                   "-k", select, "-p", "llmbench.tools.inject", "--inject-slowdown", str(size),
                   "--bench-repeats", repeats, "--bench-report", report, "-q",
                   "-p", "no:cacheprovider", *extra]
        subprocess.run(command, capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": os.environ.get(
                           "OMP_NUM_THREADS", "1")})
        path = Path(report) / "results.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        return {r["benchmark_id"]: {"outcome": r["outcome"], "why": _why(r),
                                    **({"change": _change(r, metric)} if metric else {})}
                for r in data["benchmarks"]}


def _change(record: dict[str, Any], metric: str) -> float | None:
    cell = row_cells(record).get(metric)
    return cell.relative_change if cell else None


def _why(record: dict[str, Any]) -> str:
    """The reason, or the message's rows that were not passes, for anything but a pass."""
    if record["outcome"] == "pass":
        return ""
    marks = ("regressed", "unconfirmed", "busy", "failed", "missing")
    rows = [" ".join(line.split()) for line in (record.get("message") or "").splitlines()
            if any(line.rstrip().endswith(mark) for mark in marks)]
    return (record.get("reason") or " / ".join(rows))[:400]


def study(profile: str, select: str, sizes: list[float], repeat_settings: list[str], runs: int,
          extra: list[str], metric: str = "", competitors: int = 0) -> list[dict[str, Any]]:
    rows = []
    for repeats in repeat_settings:
        for size in sizes:
            outcomes: list[dict[str, dict[str, Any]]] = []
            started = time.perf_counter()
            for _ in range(runs):
                with competing(competitors):
                    outcomes.append(one_run(profile, select, size, repeats, extra, metric))
            per_benchmark: dict[str, Counter[str]] = {}
            for run in outcomes:
                for benchmark, seen in run.items():
                    per_benchmark.setdefault(benchmark, Counter())[seen["outcome"]] += 1
            rows.append({"size": size, "repeats": repeats, "runs": runs,
                         "seconds": time.perf_counter() - started,
                         "failed_runs": sum(any(s["outcome"] in FAILING for s in run.values())
                                            for run in outcomes),
                         **{f"{kind}_runs": sum(any(s["outcome"] == kind for s in run.values())
                                                for run in outcomes)
                            for kind in ("unconfirmed", "improved", "busy")},
                         "why": [f"{b.split('/')[-1]} {s['outcome']}: {s['why']}"
                                 for run in outcomes for b, s in run.items() if s["why"]],
                         "per_benchmark": {b: dict(c) for b, c in sorted(per_benchmark.items())},
                         **({"changes": {metric: [{b: s.get("change") for b, s in run.items()}
                                                  for run in outcomes]}} if metric else {})})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def to_markdown(rows: list[dict[str, Any]], profile: str, select: str, extra: list[str] = (),
                competitors: int = 0) -> str:
    how = f", pytest arguments `{' '.join(extra)}`" if extra else ""
    busy = (f", with {competitors} CPU-bound processes competing for the cores"
            if competitors else "")
    lines = [f"Profile `{profile}`, benchmarks `-k \"{select}\"`{how}{busy}. Each cell: runs "
             f"(of {rows[0]['runs']}) in which a selected benchmark failed, and runs whose "
             "outcome was unconfirmed, improved or busy (visible, not failing). Size 0 = "
             "unchanged code (false alarms).", "",
             "| injected slowdown | --bench-repeats | failed runs | unconfirmed | improved | busy "
             "| per benchmark (outcome counts) |", "|---:|---|---:|---:|---:|---:|---|"]
    for row in rows:
        per = "; ".join(f"{b.split('/')[-1]}: " + ", ".join(f"{k} {v}" for k, v in c.items())
                        for b, c in row["per_benchmark"].items())
        lines.append(f"| {_size_name(row['size'])} | {row['repeats']} | "
                     f"{row['failed_runs']}/{row['runs']} | {row.get('unconfirmed_runs', 0)} | "
                     f"{row.get('improved_runs', 0)} | {row.get('busy_runs', 0)} | {per} |")
    for row in rows:
        for metric, runs in (row.get("changes") or {}).items():
            by_benchmark: dict[str, list[str]] = {}
            for run in runs:
                for benchmark, change in run.items():
                    by_benchmark.setdefault(benchmark.split("/")[-1], []).append(
                        "-" if change is None else f"{change:+.1%}")
            for benchmark, changes in by_benchmark.items():
                lines.append(f"\n{_size_name(row['size'])}, --bench-repeats {row['repeats']}: "
                             f"{benchmark} `{metric}` against its baseline, run by run: "
                             f"{', '.join(changes)}")
    whys = [f"* {_size_name(row['size'])}, --bench-repeats {row['repeats']}: {why}"
            for row in rows for why in row.get("why", [])]
    if whys:
        lines += ["", "Anything but a pass, run by run:", "", *whys]
    return "\n".join(lines) + "\n"


def _size_name(size: float) -> str:
    return "0 (unchanged)" if size == 0 else f"+{size:.0%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmbench.tools.detection_study")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("-k", dest="select", required=True, help="pytest -k expression")
    parser.add_argument("--sizes", default="0,0.05,0.1,0.25,1.0")
    parser.add_argument("--repeats", default="auto,5", help="comma-separated settings")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--metric", default="",
                        help="also list this metric's change against its baseline in every run")
    parser.add_argument("--competitors", type=int, default=0,
                        help="CPU-bound processes kept running beside every run (a busy machine)")
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    rows = study(args.profile, args.select, [float(s) for s in args.sizes.split(",")],
                 args.repeats.split(","), args.runs, args.extra, args.metric, args.competitors)
    table = to_markdown(rows, args.profile, args.select, args.extra, args.competitors)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)
        Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
