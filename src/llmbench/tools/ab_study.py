"""Does ``llmbench ab`` catch a slowdown of the candidate, and stay quiet on A = B? Measured.

    python -m llmbench.tools.ab_study -k "lora_rank and r8" --runs 10 \\
        --sizes 0,0.05,0.1 --schedules duet,interleaved --out docs/ab-study/lora-r8.md

For every injected size, the candidate is a throwaway commit on top of ``--base`` (default
HEAD) that only adds a root ``conftest.py`` loading ``llmbench.tools.inject`` with that
slowdown (``--inject-how``, ``--inject-into`` as the plugin takes them), made with git plumbing
(no checkout is touched) and kept as the branch ``ab-study/slowdown-<size>``; size 0 compares
the base with itself (A = B). Each (schedule, size) cell runs ``llmbench ab BASE CANDIDATE``
``--runs`` times, each with its own seed, and counts the runs that exited 1 (a regression:
detections; false alarms at size 0), exited 2 (errors), and were unconfirmed, with their rounds,
wall time and the time until every metric was decided. Options after ``--`` go to ``llmbench
ab`` (``--min-effect 0.05``, ``--cold``, ...). Run it on a quiet machine, nothing in parallel.

    python -m llmbench.tools.ab_study --simulate

instead plays the stopping rule (``llmbench.ab.judge.verdict_of``, the defaults of ``llmbench
ab``) on synthetic rounds: normal log ratios of a given spread, 5 % of rounds hit by a 10-40 %
spike on one side; per metric, how often it regresses and how many rounds it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFTEST = '''# Throwaway commit of llmbench.tools.ab_study: the candidate with an injected slowdown.
pytest_plugins = ["llmbench.tools.inject"]


def pytest_configure(config):
    config.option.inject_slowdown = {size!r}
    config.option.inject_how = {how!r}
    config.option.inject_into = {into!r}
'''
BRANCH = "ab-study/slowdown-{size:g}"


def _git(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                          input=stdin, env={**os.environ, **(env or {})}).stdout.strip()


def injected_commit(base: str, size: float, how: str = "burn", into: str = "step") -> str:
    """A commit on top of ``base`` whose only change is a root conftest.py injecting ``size``
    (appended to an existing one); the branch ``ab-study/slowdown-<size>`` points at it."""
    base_commit = _git("rev-parse", "--verify", f"{base}^{{commit}}")
    try:
        existing = _git("show", f"{base_commit}:conftest.py") + "\n\n"
    except subprocess.CalledProcessError:
        existing = ""
    blob = _git("hash-object", "-w", "--stdin",
                stdin=existing + CONFTEST.format(size=size, how=how, into=into))
    with tempfile.TemporaryDirectory() as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git("read-tree", base_commit, env=index)
        _git("update-index", "--add", "--cacheinfo", f"100644,{blob},conftest.py", env=index)
        tree = _git("write-tree", env=index)
    identity = {"GIT_AUTHOR_NAME": "llmbench ab-study", "GIT_AUTHOR_EMAIL": "ab-study@localhost",
                "GIT_COMMITTER_NAME": "llmbench ab-study",
                "GIT_COMMITTER_EMAIL": "ab-study@localhost"}
    commit = _git("commit-tree", tree, "-p", base_commit, "-m",
                  f"ab-study: inject +{size:.0%} ({how} into {into}) [throwaway]", env=identity)
    _git("branch", "-f", BRANCH.format(size=size), commit)
    return commit


def one_ab(base: str, candidate: str, select: str, profile: str, seed: int,
           ab_options: list[str], pytest_extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as report:
        started = time.perf_counter()
        command = [sys.executable, "-m", "llmbench", "ab", base, candidate, "--report", report,
                   "--no-history", "--seed", str(seed), *ab_options, "--", "-k", select,
                   "--bench-profile", profile, *pytest_extra]
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        path = Path(report) / "results.json"
        document = json.loads(path.read_text()) if path.exists() else {}
    measured = [b for b in document.get("benchmarks", []) if b["outcome"] != "unavailable"]
    return {"exit": done.returncode, "wall_s": wall, "seed": seed,
            "error": "" if document else done.stderr.strip()[-500:],
            "benchmarks": [{
                "id": b["benchmark_id"] or b["nodeid"], "outcome": b["outcome"],
                "reason": b["reason"], "rounds": b["rounds"], "wall_s": b["wall_s"],
                "decided_after_s": b["decided_after_s"], "stopped_by": b["stopped_by"],
                "metrics": {name: {"verdict": row["verdict"], "b_vs_a": row["b_vs_a"],
                                   "decided": row.get("decided")}
                            for name, row in b["comparison"].items() if row.get("paired")},
            } for b in measured]}


def study(base: str, select: str, profile: str, sizes: list[float], schedules: list[str],
          runs: int, ab_options: list[str], pytest_extra: list[str], how: str,
          into: str, first_seed: int = 1) -> list[dict[str, Any]]:
    base_commit = _git("rev-parse", "--verify", f"{base}^{{commit}}")
    candidates = {size: (base_commit if size == 0 else injected_commit(base_commit, size, how,
                                                                         into))
                  for size in sizes}
    rows = []
    for schedule in schedules:
        for size in sizes:
            started = time.perf_counter()
            outcomes = [one_ab(base_commit, candidates[size], select, profile, seed,
                               ["--schedule", schedule, *ab_options], pytest_extra)
                        for seed in range(first_seed, first_seed + runs)]
            rows.append(summarize(schedule, size, outcomes, time.perf_counter() - started))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def summarize(schedule: str, size: float, outcomes: list[dict[str, Any]],
              seconds: float) -> dict[str, Any]:
    benches = [b for run in outcomes for b in run["benchmarks"]]
    decided = [b["decided_after_s"] for b in benches if b["decided_after_s"] is not None]
    return {"schedule": schedule, "size": size, "runs": len(outcomes), "seconds": seconds,
            "failed_runs": sum(run["exit"] == 1 for run in outcomes),
            "error_runs": sum(run["exit"] == 2 for run in outcomes),
            "unconfirmed_runs": sum(any(b["outcome"] == "unconfirmed"
                                        for b in run["benchmarks"]) for run in outcomes),
            "median_rounds": _median([b["rounds"] for b in benches]),
            "median_ab_s": _median([run["wall_s"] for run in outcomes]),
            "median_decided_s": _median(decided), "decided": len(decided),
            "benchmarks": len(benches), "outcomes": outcomes}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: str = ".0f") -> str:
    return "—" if value is None else format(value, digits)


def to_markdown(rows: list[dict[str, Any]], select: str, profile: str,
                command: str) -> str:
    lines = [f"Profile `{profile}`, benchmarks `-k \"{select}\"`; `{command}`. Each cell: "
             f"A/B runs (of {rows[0]['runs']}) that exited 1 (regression) / 2 (error), runs "
             "with an unconfirmed benchmark; median rounds per benchmark, median wall time of "
             "one A/B, and the median time until every metric was decided (of the benchmarks "
             "that decided).", "",
             "| schedule | injected | failed (exit 1) | errors (exit 2) | unconfirmed "
             "| median rounds | median A/B (s) | median to decision (s) | decided |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['schedule']} | {_size(row['size'])} | "
                     f"{row['failed_runs']}/{row['runs']} | "
                     f"{row['error_runs']} | {row['unconfirmed_runs']} | "
                     f"{_fmt(row['median_rounds'])} | {_fmt(row['median_ab_s'])} | "
                     f"{_fmt(row['median_decided_s'])} | {row['decided']}/{row['benchmarks']} |")
    lines += ["", "Per run, each judged metric's B vs A [interval] (verdict):", ""]
    for row in rows:
        for run in row["outcomes"]:
            for bench in run["benchmarks"]:
                shown = "; ".join(f"{name} {m['b_vs_a'].removeprefix('B vs A: ')} "
                                  f"({m['verdict']})" for name, m in sorted(
                                      bench["metrics"].items()))
                lines.append(f"* {row['schedule']} +{row['size']:.0%} seed {run['seed']}: "
                             f"{bench['id']} {bench['outcome']}, {bench['rounds']} rounds, "
                             f"{bench['wall_s']:.0f} s: {shown}")
            if run["error"]:
                lines.append(f"* {row['schedule']} +{row['size']:.0%} seed {run['seed']}: "
                             f"error: {run['error']}")
    return "\n".join(lines) + "\n"


def simulate(sds: list[float], sizes: list[float], sequences: int = 300, seed: int = 11,
             spike_share: float = 0.05) -> list[dict[str, Any]]:
    """The stopping rule of ``llmbench ab`` (its default settings) on synthetic paired rounds."""
    import math
    import random

    from llmbench.ab.judge import Policy, verdict_of
    from llmbench.ab.paired import paired_change
    from llmbench.ab.rounds import Settings
    from llmbench.regression.results import Direction
    from llmbench.regression.verdicts import Verdict

    settings, rng, rows = Settings(), random.Random(seed), []
    policy: Policy = settings.policy
    threshold = math.log1p(policy.min_effect)
    for sd in sds:
        for size in sizes:
            counts = {"regressed": 0, "decided pass": 0}
            rounds = []
            for _ in range(sequences):
                d: list[float] = []
                while True:
                    spike = rng.uniform(0.1, 0.4) * rng.choice((-1, 1)) \
                        if rng.random() < spike_share else 0.0
                    d.append(rng.gauss(math.log1p(size), sd) + spike)
                    if len(d) < settings.judged_from:
                        continue
                    change = paired_change([1.0] * len(d), [math.exp(x) for x in d],
                                           policy.alpha)
                    verdict, decided = verdict_of(change, Direction.LOWER, threshold)
                    if decided or len(d) >= settings.max_rounds:
                        break
                counts["regressed"] += verdict is Verdict.REGRESSED
                counts["decided pass"] += decided and verdict is Verdict.PASS
                rounds.append(len(d))
            rows.append({"sd": sd, "size": size, "sequences": sequences,
                         "regressed": counts["regressed"] / sequences,
                         "decided_pass": counts["decided pass"] / sequences,
                         "mean_rounds": statistics.fmean(rounds)})
    return rows


def simulation_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| per-round sd of ln(B/A) | injected | regressed | decided pass | mean rounds |",
             "|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['sd']:.0%} | {_size(row['size'])} | {row['regressed']:.1%} "
              f"| {row['decided_pass']:.0%} | {row['mean_rounds']:.0f} |" for row in rows]
    return "\n".join(lines) + "\n"


def _size(size: float) -> str:
    return "0 (A = B)" if size == 0 else f"+{size:.0%}"


def main(argv: list[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    at = given.index("--") if "--" in given else len(given)
    argv, ab_options = given[:at], given[at + 1:]
    parser = argparse.ArgumentParser(prog="python -m llmbench.tools.ab_study")
    parser.add_argument("-k", dest="select", help="pytest -k expression (required unless "
                                                  "--simulate)")
    parser.add_argument("--simulate", action="store_true",
                        help="play the stopping rule on synthetic rounds instead (--sds, --sizes)")
    parser.add_argument("--sds", default="0.02,0.04,0.06,0.1",
                        help="--simulate: per-round spreads of ln(B/A)")
    parser.add_argument("--sequences", type=int, default=300, help="--simulate: per cell")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--base", default="HEAD", help="the base ref (side A)")
    parser.add_argument("--sizes", default="0,0.05,0.1")
    parser.add_argument("--schedules", default="duet,interleaved")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1,
                        help="seeds of the runs: this one and the next --runs - 1 (to add runs "
                             "to a cell measured before without repeating its seeds)")
    parser.add_argument("--inject-how", default="burn", choices=("burn", "wait"))
    parser.add_argument("--inject-into", default="step", choices=("step", "backward"))
    parser.add_argument("--pytest-arg", action="append", default=[],
                        help="another pytest argument for both sides (repeatable)")
    parser.add_argument("--out", help="write the markdown table here (and .json beside it)")
    args = parser.parse_args(argv)
    sizes = [float(size) for size in args.sizes.split(",")]
    if args.simulate:
        table = simulation_markdown(simulate([float(sd) for sd in args.sds.split(",")], sizes,
                                             args.sequences))
        print(table, end="")
        if args.out:
            Path(args.out).write_text(table)
        return 0
    if not args.select:
        parser.error("-k is required (or --simulate)")
    rows = study(args.base, args.select, args.profile, sizes, args.schedules.split(","),
                 args.runs, ab_options, args.pytest_arg, args.inject_how, args.inject_into,
                 args.first_seed)
    command = "python -m llmbench.tools.ab_study " + shlex.join(given)
    table = to_markdown(rows, args.select, args.profile, command)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)
        Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
