"""Result history across runs: a store appended by every run, change points, a static dashboard.

Layer: above ``report`` (reads results.json documents), below ``pytest_plugin`` and ``cli``.

* ``rows``: a results.json document as one run and one row per (benchmark, metric);
* ``store``: the database (SQLite file by default, PostgreSQL URL for teams);
* ``changes``: persistent shifts per metric and hardware key (ruptures);
* ``dashboard``: the static HTML site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmbench.history.rows import Run, run_from_results
from llmbench.history.store import (
    ENV_VAR,
    HistoryError,
    HistoryStore,
    default_location,
    redact,
    resolve_location,
)

__all__ = ["ENV_VAR", "HistoryError", "HistoryStore", "Run", "append_results",
           "default_location", "import_files", "redact", "resolve_location", "run_from_results"]


def append_results(location: str, results: dict[str, Any], source: str) -> tuple[Run, bool]:
    """Append one results.json document; returns the run and whether it was new."""
    run = run_from_results(results, source)
    with HistoryStore(location) as store:
        return run, store.append(run)


def import_files(location: str, paths: list[Path]) -> list[tuple[Path, Run, bool]]:
    """Load every file first (a bad one stops the import before anything is written), then
    append them one run per transaction."""
    from llmbench.report import load_results

    runs = [(Path(p), run_from_results(load_results(Path(p)), str(p))) for p in paths]
    with HistoryStore(location) as store:
        return [(path, run, store.append(run)) for path, run in runs]
