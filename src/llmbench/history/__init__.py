"""Result history across runs: a store appended by every run, change points, a static dashboard.

Layer: above ``report`` (reads results.json documents), below ``pytest_plugin`` and ``cli``.

* ``rows``: a results.json document as one run and one row per (benchmark, metric);
* ``ab_rows``: an A/B run (``llmbench ab``) as rows of its own kind, never a night;
* ``store``: the database (SQLite file by default, PostgreSQL URL for teams);
* ``changes``: persistent shifts per metric and hardware key (ruptures);
* ``dashboard``: the static HTML site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmbench.history.ab_rows import AbRun, ab_run_from_results, is_ab
from llmbench.history.rows import Run, run_from_results
from llmbench.history.store import (
    ENV_VAR,
    HistoryError,
    HistoryStore,
    default_location,
    redact,
    resolve_location,
)

__all__ = ["ENV_VAR", "AbRun", "HistoryError", "HistoryStore", "Run", "append_results",
           "default_location", "import_files", "redact", "resolve_location", "run_from_results"]


def _as_run(results: dict[str, Any], source: str) -> Run | AbRun:
    return ab_run_from_results(results, source) if is_ab(results) else run_from_results(
        results, source)


def _append(store: HistoryStore, run: Run | AbRun) -> bool:
    return store.append_ab(run) if isinstance(run, AbRun) else store.append(run)


def append_results(location: str, results: dict[str, Any], source: str
                   ) -> tuple[Run | AbRun, bool]:
    """Append one results.json document (a run of the plugin, or an A/B run of
    ``llmbench ab``); returns the run and whether it was new."""
    run = _as_run(results, source)
    with HistoryStore(location) as store:
        return run, _append(store, run)


def import_files(location: str, paths: list[Path]) -> list[tuple[Path, Run, bool]]:
    """Load every file first (a bad one stops the import before anything is written), then
    append them one run per transaction."""
    from llmbench.report import load_results

    runs = [(Path(p), _as_run(load_results(Path(p)), str(p))) for p in paths]
    with HistoryStore(location) as store:
        return [(path, run, _append(store, run)) for path, run in runs]
