"""``llmbench history ...``: import old runs, list change points, write the dashboard.

    llmbench history import results.json...            [--history PATH|URL]
    llmbench history changes [--last N]                [--history PATH|URL]
    llmbench history html OUT/ [--commit-url TEMPLATE] [--history PATH|URL]
    llmbench history study SESSION.json... [--trials N] [--out FILE.md]
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


