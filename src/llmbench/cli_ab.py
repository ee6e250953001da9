"""``llmbench ab BASE CANDIDATE [options] [-- PYTEST_ARGS...]``: same-runner A/B.

    llmbench ab main HEAD -- -k "lora_rank and r8" --bench-profile smoke
    llmbench ab python:.venv-old/bin/python python:.venv-new/bin/python -- -m lora

Exit 0: no regression; 1: a regression (or a failed or missing metric); 2: usage or setup
error (a ref that does not exist, a side that cannot run or crashes, a benchmark on one side
only). See ``llmbench.ab``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

DEFAULT_BENCHMARKS = "benchmarks"


def add_ab_command(sub: Any) -> None:
    from llmbench.ab.judge import DEFAULT_MIN_EFFECT
    from llmbench.ab.rounds import Settings
    from llmbench.ab.schedules import DEFAULT_SCHEDULE, SCHEDULE_ENV, SCHEDULES
    from llmbench.regression.stats import DEFAULT_ALPHA

    defaults = Settings()
    ab = sub.add_parser(
        "ab", usage="llmbench ab BASE CANDIDATE [options] [-- PYTEST_ARGS...]",
        epilog=f"PYTEST_ARGS (after --) select the benchmarks as usual: -k, -m, "
               f"--bench-profile, paths ({DEFAULT_BENCHMARKS}/ unless they name a path).",
        help="A/B on this runner: two git refs, or two interpreters, measured side by "
                   "side in rounds; exit 1 on a regression of B against A",
        description="Each side is a git ref of this repository (checked out into a temporary "
                    "worktree; its code runs) or python:PATH (that interpreter runs the current "
                    "checkout). Pytest arguments after -- select the benchmarks as usual.")
    ab.add_argument("base", metavar="BASE", help="side A: a git ref, or python:PATH")
    ab.add_argument("candidate", metavar="CANDIDATE", help="side B: a git ref, or python:PATH")
    ab.add_argument("--schedule", choices=SCHEDULES, default=None,
                    help=f"duet: both sides at once, one core each; interleaved: one after the "
                         f"other in random order (default: ${SCHEDULE_ENV}, else "
                         f"{DEFAULT_SCHEDULE})")
    ab.add_argument("--cold", action="store_true",
                    help="a fresh pair of processes for every round (start-up and loading "
                         "measured too); default: one long-lived worker per side")
    ab.add_argument("--min-effect", type=_fraction, default=DEFAULT_MIN_EFFECT, metavar="F",
                    help=f"smallest relative change worth failing on, e.g. 0.03 or 3%% "
                         f"(default {DEFAULT_MIN_EFFECT:g})")
    ab.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, metavar="P",
                    help=f"significance of each side of the interval (default {DEFAULT_ALPHA})")
    ab.add_argument("--min-rounds", type=int, default=defaults.min_rounds, metavar="N",
                    help=f"rounds before a verdict may be decided (default "
                         f"{defaults.min_rounds}; raised to what --alpha needs)")
    ab.add_argument("--max-rounds", type=int, default=defaults.max_rounds, metavar="N",
                    help=f"round cap per benchmark (default {defaults.max_rounds})")
    ab.add_argument("--warmup", type=int, default=defaults.warmup, metavar="N",
                    help=f"rounds played first and not judged, per benchmark of a warm worker "
                         f"(default {defaults.warmup})")
    ab.add_argument("--time-budget", type=float, default=defaults.time_budget_s,
                    metavar="SECONDS", help="seconds of rounds for the whole A/B, shared out "
                                            f"over the benchmarks (default "
                                            f"{defaults.time_budget_s:g})")
    ab.add_argument("--timeout", type=float, default=defaults.timeout_s, metavar="SECONDS",
                    help="a worker silent for this long is lost (default "
                         f"{defaults.timeout_s:g})")
    ab.add_argument("--seed", type=int, default=None,
                    help="seed of the round order and core assignment (default: random, "
                         "recorded)")
    ab.add_argument("--python", default=None, metavar="PATH",
                    help="interpreter for the git-ref sides (default: this one)")
    ab.add_argument("--report", default=".llmbench/ab", metavar="DIR",
                    help="where results.json, summary.md and the workers' logs go "
                         "(default .llmbench/ab)")
    ab.add_argument("--history", default=None, metavar="PATH|URL",
                    help="result history to record this A/B in (default: $LLMBENCH_HISTORY, "
                         "else .llmbench/history.sqlite)")
    ab.add_argument("--no-history", action="store_true", help="do not record it")
    ab.set_defaults(func=cmd_ab)


def split_pytest_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """``llmbench ab ... -- PYTEST_ARGS``: the command's own arguments, and pytest's."""
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1:]


def _fraction(text: str) -> float:
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a fraction in [0, 1), e.g. 0.03 or 3%")
    return value


def with_benchmarks_path(pytest_args: list[str], default: str = DEFAULT_BENCHMARKS
                         ) -> list[str]:
    """The pytest arguments, with ``benchmarks/`` added unless one of them names a path
    (pytest would otherwise run its configured testpaths)."""
    names_path = any(not arg.startswith("-") and Path(arg.split("::")[0]).exists()
                     for arg in pytest_args)
    return pytest_args if names_path else [default, *pytest_args]


def settings_from(args: argparse.Namespace) -> Any:
    from llmbench.ab.judge import Policy
    from llmbench.ab.rounds import Settings
    from llmbench.ab.schedules import DUET, default_schedule, duet_cores

    if not 0 < args.alpha < 0.5:
        raise ValueError(f"--alpha must be in (0, 0.5), got {args.alpha}")
    if args.min_rounds < 1 or args.max_rounds < 1 or args.warmup < 0:
        raise ValueError("--min-rounds and --max-rounds must be >= 1, --warmup >= 0")
    if args.time_budget <= 0 or args.timeout <= 0:
        raise ValueError("--time-budget and --timeout must be > 0")
    schedule = args.schedule or default_schedule()
    if schedule == DUET:
        duet_cores()  # fails now, before any checkout, where a duet cannot run
    settings = Settings(schedule=schedule, cold=args.cold,
                        policy=Policy(min_effect=args.min_effect, alpha=args.alpha),
                        min_rounds=args.min_rounds, max_rounds=args.max_rounds,
                        warmup=0 if args.cold else args.warmup, time_budget_s=args.time_budget,
                        timeout_s=args.timeout,
                        seed=args.seed if args.seed is not None else int.from_bytes(
                            os.urandom(4), "big"))
    if settings.max_rounds < settings.judged_from:
        raise ValueError(f"--max-rounds {settings.max_rounds} is below the "
                         f"{settings.judged_from} rounds a verdict needs (--min-rounds, and "
                         f"--alpha {args.alpha} needs {settings.judged_from})")
    return settings


def cmd_ab(args: argparse.Namespace) -> int:
    from llmbench.ab.report import build_document, terminal_lines, write_reports
    from llmbench.ab.runner import AbRunner, AbSetupError
    from llmbench.ab.schedules import ScheduleError
    from llmbench.ab.sides import Checkouts, SideError

    started = time.perf_counter()
    try:
        settings = settings_from(args)
    except ScheduleError as exc:
        raise ValueError(str(exc)) from None
    pytest_args = with_benchmarks_path(list(args.pytest_args))
    report_dir = Path(args.report)
    try:
        with Checkouts(python=args.python) as checkouts:
            a = checkouts.side("A", args.base)
            b = checkouts.side("B", args.candidate)
            for side in (a, b):
                print(f"{side.describe()} ({side.llmbench})", flush=True)
            runner = AbRunner(a, b, pytest_args, settings, report_dir / "workers",
                              progress=lambda line: print(line, flush=True))
            benchmarks = runner.run()
    except (SideError, AbSetupError, ScheduleError) as exc:
        print(f"llmbench ab: error: {exc}", file=sys.stderr)
        return 2
    commit = a.commit if not a.is_ref else None
    document = build_document(a, b, pytest_args, settings, benchmarks, runner.errors,
                              time.perf_counter() - started, commit)
    results, summary = write_reports(document, report_dir)
    print()
    print("\n".join(terminal_lines(document)))
    print(f"\nreport: {results} and {summary}")
    if not args.no_history:
        _record(document, results, args.history)
    return int(document["exit_code"])


def _record(document: dict[str, Any], results: Path, option: str | None) -> None:
    try:
        from llmbench.history import append_results, redact, resolve_location
    except ImportError as exc:
        warnings.warn(f"llmbench ab: not recorded in the history: {exc} (install "
                      "llmbench[history], or pass --no-history)", stacklevel=2)
        return
    location = resolve_location(option, results.parent)
    try:
        run, new = append_results(location, document, str(results))
    except Exception as exc:  # the verdict stands whatever the history does
        print(f"history: not recorded in {redact(location)}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return
    print(f"history: {redact(location)} (A/B run {run.run_id[:12]}"
          f"{'' if new else ', already stored'})")
