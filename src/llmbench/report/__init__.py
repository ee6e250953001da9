"""Everything written to ``--bench-report DIR`` after a run.

``results.json`` (always; schema in ``results.schema.json``), ``summary.md`` (one table per
benchmark, grouped by suite), ``plots/*.png``; the summary is also appended to
``$GITHUB_STEP_SUMMARY`` when that variable is set. Only results.json is essential: a problem
with the rest is a warning, never a failed run.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from llmbench.core.redaction import redact_data
from llmbench.report.results_file import (
    RESULTS_SCHEMA_VERSION,
    build_results,
    load_results,
    write_results,
)
from llmbench.report.tables import ReportWarning

__all__ = ["RESULTS_SCHEMA_VERSION", "ReportWarning", "build_results", "load_results",
           "render_report", "write_report", "write_results"]


def write_report(report_dir: Path, records: list[dict[str, Any]]) -> Path:
    """Write results.json (always) and the human report; return the results.json path."""
    report_dir = Path(report_dir)
    results = build_results(records)
    path = write_results(report_dir, results)
    try:
        render_report(results, report_dir, step_summary=os.environ.get("GITHUB_STEP_SUMMARY"))
    except Exception as exc:  # the report must never turn a finished run into a crash
        warnings.warn(f"llmbench: summary.md / plots not written to {report_dir}: "
                      f"{type(exc).__name__}: {exc}", ReportWarning, stacklevel=2)
    return path


def render_report(results: dict[str, Any], out_dir: Path, *, step_summary: str | None = None,
                  plots: bool = True) -> Path:
    """Write summary.md and plots/ for a results.json document; return the summary path.

    ``step_summary``: a file (``$GITHUB_STEP_SUMMARY``) to append the summary to, without
    image links.
    """
    from llmbench.core.files import atomic_write_text
    from llmbench.report.plots import write_plots
    from llmbench.report.summary import render_summary
    from llmbench.report.tables import build_tables

    out_dir = Path(out_dir)
    results = redact_data(results)  # summary.md and the step summary never show a key
    problems = _schema_problems(results)
    tables, skipped = build_tables(list(results.get("benchmarks") or []))
    problems += skipped
    images = write_plots(tables, out_dir, problems) if plots else {}
    summary = out_dir / "summary.md"
    atomic_write_text(summary, render_summary(results, tables, problems, images))
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as fh:
                fh.write(render_summary(results, tables, problems) + "\n")
        except OSError as exc:
            warnings.warn(f"llmbench: cannot append to GITHUB_STEP_SUMMARY={step_summary}: "
                          f"{exc}", ReportWarning, stacklevel=2)
    return summary


def _schema_problems(results: dict[str, Any]) -> list[str]:
    try:
        from llmbench.report.schema import schema_errors

        errors = schema_errors(results)
    except ImportError:  # jsonschema comes with the `report` extra
        return []
    if errors:
        warnings.warn(f"results.json does not match results.schema.json ({len(errors)} "
                      f"problem(s), see summary.md); first: {errors[0]}", ReportWarning,
                      stacklevel=3)
    return [f"results.json does not match results.schema.json: {e}" for e in errors]
