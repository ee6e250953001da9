"""The plugin's side of the result history: two options and one append after results.json.

Kept apart from the plugin module so its edits there stay two calls. An append that fails is a
warning: results.json is already written and the run's verdicts stand.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from llmbench.report.tables import ReportWarning


class HistoryWarning(ReportWarning):
    """The run could not be appended to the result history."""


def add_history_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmbench")
    group.addoption("--bench-history", default=None, metavar="PATH|URL",
                    help="result history to append this run to: a SQLite file or a "
                         "postgresql:// URL (default: $LLMBENCH_HISTORY, else "
                         ".llmbench/history.sqlite beside the report dir)")
    group.addoption("--no-bench-history", action="store_true", default=False,
                    help="do not append this run to the result history")


def append_to_history(config: pytest.Config, results_path: Path | None) -> str | None:
    """Append the results.json just written; a line for the terminal summary, or None."""
    if results_path is None or config.getoption("no_bench_history"):
        return None
    try:
        from llmbench.history import append_results, redact, resolve_location
        from llmbench.report import load_results
    except ImportError as exc:
        warnings.warn(f"llmbench: result history not recorded: {exc} (install "
                      f"llmbench[history], or pass --no-bench-history)", HistoryWarning,
                      stacklevel=2)
        return None
    location = resolve_location(config.getoption("bench_history"), Path(results_path).parent)
    try:
        run, new = append_results(location, load_results(Path(results_path)),
                                  str(results_path))
    except Exception as exc:  # never let the history turn a finished run into a crash
        warnings.warn(f"llmbench: run not appended to the result history "
                      f"{redact(location)}: {type(exc).__name__}: {exc}", HistoryWarning,
                      stacklevel=2)
        return None
    if not new:
        return f"history: {redact(location)} (this run was already stored)"
    return f"history: {redact(location)} (+{len(run.metrics)} metric rows, run {run.run_id[:12]})"
