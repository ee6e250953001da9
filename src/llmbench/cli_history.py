"""``llmbench history ...``: import old runs, list change points, write the dashboard.

    llmbench history import results.json...            [--history PATH|URL]
    llmbench history changes [--last N]                [--history PATH|URL]
    llmbench history html OUT/ [--commit-url TEMPLATE] [--history PATH|URL]
    llmbench history study SESSION.json... [--trials N] [--out FILE.md]
    llmbench history ab [--last N]                     [--history PATH|URL]
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

HISTORY_HELP = ("result history: a SQLite file or a postgresql:// URL (default: "
                "$LLMBENCH_HISTORY, else .llmbench/history.sqlite)")


def _location(args: argparse.Namespace) -> str:
    from llmbench.history import resolve_location

    return resolve_location(args.history)


def _history_errors(func: Callable[[argparse.Namespace], int]
                    ) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        from llmbench.history import HistoryError

        try:
            return func(args)
        except HistoryError as exc:
            print(f"llmbench history {args.history_command}: error: {exc}", file=sys.stderr)
            return 2
    return wrapper


@_history_errors
def cmd_import(args: argparse.Namespace) -> int:
    from llmbench.history import import_files, redact

    location = _location(args)
    stored = import_files(location, [Path(p) for p in args.results])
    for path, run, new in stored:
        state = (f"+{len(run.metrics)} metric rows" if new else "already stored")
        print(f"{path}: run {run.run_id[:12]} ({run.time:%Y-%m-%d %H:%M}, "
              f"{(run.commit or 'no commit')[:10]}): {state}")
    print(f"history: {redact(location)} ({sum(new for _, _, new in stored)} of {len(stored)} "
          f"run(s) new)")
    return 0


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@_history_errors
def cmd_changes(args: argparse.Namespace) -> int:
    from llmbench.history import HistoryStore, redact
    from llmbench.history.changes import find_changes

    location = _location(args)
    with HistoryStore(location) as store:
        rows = list(store.measurement_rows(benchmark=args.benchmark, metric=args.metric))
    changes = find_changes(rows)
    recent = [c for c in changes if c.regression and c.runs_ago() <= args.last]
    if not changes:
        print(f"no change points in {len({r['run_id'] for r in rows})} run(s) of "
              f"{redact(location)}")
        return 0
    table = [("benchmark", "profile", "device", "hardware", "metric", "commits", "date",
              "before", "after", "size", "confidence", "kind")]
    for c in sorted(changes, key=lambda c: (c.series.key, c.index)):
        key = c.series.key
        commits = f"{(c.last_before.commit or '?')[:8]}..{(c.first_after.commit or '?')[:8]}"
        kind = "regression" if c.regression else "improvement"
        if c.regression and c.runs_ago() <= args.last:
            kind += f" (new: {c.runs_ago()} run(s) ago)"
        table.append((key.benchmark_id, key.profile, key.device, key.hardware_key, key.metric,
                      commits, f"{c.first_after.time:%Y-%m-%d}", f"{c.before:.4g}",
                      f"{c.after:.4g}", f"{c.size:+.2%}", f"{c.confidence:.3f}", kind))
    print(_table(table))
    print(f"\n{len(changes)} change point(s); {len(recent)} regression(s) starting in the last "
          f"{args.last} run(s)")
    return 1 if recent else 0


@_history_errors
def cmd_html(args: argparse.Namespace) -> int:
    from llmbench.history import HistoryStore
    from llmbench.history.dashboard import write_site

    with HistoryStore(_location(args)) as store:
        site = write_site(list(store.measurement_rows()), store.benchmark_rows(), store.runs(),
                          Path(args.out), commit_url=args.commit_url, title=args.title)
    print(f"wrote {site.index} and {len(site.pages)} metric page(s)")
    return 0


@_history_errors
def cmd_ab(args: argparse.Namespace) -> int:
    """The A/B runs (``llmbench ab``), newest last, with what each found."""
    from llmbench.history import HistoryStore, redact

    location = _location(args)
    with HistoryStore(location) as store:
        runs = store.ab_runs()[-args.last:]
        rows = {run["run_id"]: store.ab_measurement_rows(run["run_id"]) for run in runs}
    if not runs:
        print(f"no A/B runs in {redact(location)}")
        return 0
    table = [("date", "A (base)", "B (candidate)", "schedule", "exit", "benchmarks",
              "B vs A, where it moved")]
    for run in runs:
        moved = [f"{r['benchmark_id'].split('/')[-1]} {r['metric']} {r['change']:+.1%} "
                 f"{r['verdict']}" for r in rows[run["run_id"]]
                 if r["verdict"] in ("regressed", "improved", "unconfirmed")
                 and r["change"] is not None]
        table.append((f"{run['run_time']:%Y-%m-%d %H:%M}", _side(run, "base"),
                      _side(run, "candidate"), run["schedule"], str(run["exit_code"]),
                      str(run["n_benchmarks"]), "; ".join(moved) or "-"))
    print(_table(table))
    return 0


def _side(run: dict, name: str) -> str:
    commit = (run.get(f"{name}_commit") or "")[:8]
    return f"{run[name]}" + (f" @{commit}" if commit and not run[name].startswith(commit)
                             else "")


def cmd_study(args: argparse.Namespace) -> int:
    import shlex
    import time

    from llmbench.report import load_results
    from llmbench.tools.changepoint_study import study, to_markdown

    started = time.monotonic()
    documents = [load_results(Path(p)) for p in args.sessions]
    penalties = tuple(dict.fromkeys([args.penalty, *(args.sweep or [])]))
    out = study(documents, trials=args.trials, seed=args.seed, penalties=penalties,
                sweep_trials=args.sweep_trials, repeats=args.repeats)
    words = [*args.sessions, "--trials", str(args.trials), "--seed", str(args.seed),
             "--repeats", str(args.repeats), "--penalty", f"{args.penalty:g}"]
    for penalty in args.sweep or []:
        words += ["--sweep", f"{penalty:g}"]
    if args.sweep_trials:
        words += ["--sweep-trials", str(args.sweep_trials)]
    command = "llmbench history study " + " ".join(shlex.quote(w) for w in words)
    text = (f"<!-- written by: {command} -->\n\n{to_markdown(out)}\n"
            f"Took {time.monotonic() - started:.0f} s.\n")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    print(text, end="")
    return 0


def add_history_commands(sub: argparse._SubParsersAction) -> None:
    history = sub.add_parser("history", help="result history across runs: import, change "
                                             "points, dashboard")
    commands = history.add_subparsers(dest="history_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]
                ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--history", metavar="PATH|URL", default=None, help=HISTORY_HELP)
        parser.set_defaults(func=func)
        return parser

    imp = command("import", "append results.json files of earlier runs (idempotent)",
                  cmd_import)
    imp.add_argument("results", nargs="+", metavar="results.json")

    from llmbench.history.changes import PENALTY, RECENT_RUNS

    html = command("html", "write a static dashboard (index.html + a page per metric)",
                   cmd_html)
    html.add_argument("out", metavar="OUT/", help="folder to write the site into")
    html.add_argument("--commit-url", metavar="TEMPLATE",
                      help="link of each point, {commit} is replaced (default on GitHub "
                           "Actions: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/commit/{commit}; "
                           "else the run list)")
    html.add_argument("--title", default="llmbench history")

    changes = command("changes", "persistent shifts per metric and hardware key; exits 1 when "
                                 "a regression starts in the last N runs", cmd_changes)
    changes.add_argument("--last", type=int, default=RECENT_RUNS, metavar="N",
                         help=f"fail on regressions that start in the last N runs (default "
                              f"{RECENT_RUNS})")
    changes.add_argument("--benchmark", metavar="ID", help="only this benchmark id")
    changes.add_argument("--metric", metavar="NAME", help="only this metric")

    ab = command("ab", "the A/B runs of `llmbench ab` (kept apart from the runs' series)",
                 cmd_ab)
    ab.add_argument("--last", type=int, default=20, metavar="N",
                    help="the last N A/B runs (default 20)")

    study = commands.add_parser(
        "study", help="detection rate and false change points of `changes` on nightly series "
                      "simulated from recorded --bench-repeats sessions")
    study.add_argument("sessions", nargs="+", metavar="SESSION.json",
                       help="results.json of --bench-repeats sessions (two or more per profile)")
    study.add_argument("--trials", type=int, default=100, help="series per metric and shift")
    study.add_argument("--seed", type=int, default=0)
    study.add_argument("--repeats", type=int, default=3, help="repeats per night (default 3)")
    study.add_argument("--penalty", type=float, default=PENALTY,
                       help=f"penalty × log(n) to study (default {PENALTY:g})")
    study.add_argument("--sweep", type=float, action="append", metavar="PENALTY",
                       help="also measure this penalty at 0 %% and 10 %% (repeatable)")
    study.add_argument("--sweep-trials", type=int, default=None)
    study.add_argument("--out", metavar="FILE.md", help="also write the tables here")
    study.set_defaults(func=cmd_study)


