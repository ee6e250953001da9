"""``--wandb``: one Weights & Biases run per benchmark record, with its metrics and curves.

Project ``llmbench-<module>`` (override with ``$WANDB_PROJECT``), run ``<function>-<case>-<device>``,
grouped by ``<module>/<function>`` so that the ranks / precisions / RAG configurations of one
benchmark overlay in the W&B UI. Per-step curves (``*_curve`` artifacts such as ``loss_curve``,
``step_seconds``, ``step_tokens``) go to the run's history; metric values, baseline values and verdicts to its summary.
Works without network under ``WANDB_MODE=offline`` (``wandb sync`` uploads later).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from llmbench.core.redaction import redact_data, redact_secrets
from llmbench.report.plots import curve_points
from llmbench.report.tables import ReportWarning, split_benchmark_id

CURVE_PREFIX = "curve/"
STEP_ARTIFACTS = ("step_seconds", "step_tokens")  # per-step lists besides the *_curve ones


def is_curve(name: str) -> bool:
    return name.endswith("_curve") or name in STEP_ARTIFACTS


def run_names(record: dict[str, Any]) -> tuple[str, str, str]:
    """(project, run name, group) for a record."""
    benchmark, case = split_benchmark_id(record["benchmark_id"])
    module, _, function = benchmark.partition("/")
    project = os.environ.get("WANDB_PROJECT") or f"llmbench-{module}"
    return project, f"{function}-{case}-{record['device']}", benchmark


def curves(record: dict[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    """The per-step artifacts (``*_curve``, step times and tokens), and the baseline's, by
    history key."""
    found = {}
    sources = (("", (record.get("result") or {}).get("artifacts") or {}),
               ("baseline/", record.get("baseline_artifacts") or {}))
    for prefix, artifacts in sources:
        for name, value in artifacts.items():
            if not is_curve(name):
                continue
            steps, values = curve_points(value)
            if values:
                found[f"{CURVE_PREFIX}{prefix}{name}"] = (steps, values)
    return found


def history_rows(record: dict[str, Any]) -> list[tuple[int, dict[str, float]]]:
    """Curves merged into (step, {key: value}) rows in step order, as ``run.log`` wants them."""
    by_step: dict[int, dict[str, float]] = {}
    for key, (steps, values) in curves(record).items():
        for step, value in zip(steps, values):
            by_step.setdefault(int(step), {})[key] = value
    return sorted(by_step.items())


def summary_values(record: dict[str, Any]) -> dict[str, Any]:
    result = record.get("result") or {}
    out: dict[str, Any] = {"outcome": record["outcome"]}
    for name, metric in (result.get("metrics") or {}).items():
        value = metric.get("value")
        out[name] = float(value) if isinstance(value, str) else value
    for name, row in (record.get("comparison") or {}).items():
        out[f"verdict/{name}"] = row.get("verdict")
        if row.get("baseline") is not None:
            out[f"baseline/{name}"] = row["baseline"]
    return out


def log_record(record: dict[str, Any]) -> str:
    """Log one record as one W&B run (every string redacted); returns the run's directory."""
    import wandb

    record = redact_data(record)

    project, name, group = run_names(record)
    result = record.get("result") or {}
    config = {"benchmark_id": record["benchmark_id"], "profile": record["profile"],
              "device": record["device"], "suite": result.get("suite"),
              "params": result.get("params") or {}, "environment": record.get("environment")}
    settings = wandb.Settings(console="off", silent=True, x_disable_stats=True)
    with wandb.init(project=project, name=name, group=group, job_type=result.get("suite"),
                    tags=[t for t in (result.get("suite"), record["profile"], record["device"],
                                      record["outcome"]) if t],
                    config=config, reinit="create_new", settings=settings) as run:
        for step, values in history_rows(record):
            run.log(values, step=step)
        run.summary.update(summary_values(record))
        return run.dir


def log_records(records: list[dict[str, Any]]) -> list[str]:
    """Log every record that has a result; a failure is a warning, never a failed run."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        warnings.warn("--wandb: wandb is not installed (pip install 'llmbench[wandb]'); "
                      "nothing logged", ReportWarning, stacklevel=2)
        return []
    written = []
    for record in records:
        if not record.get("result"):
            continue
        try:
            written.append(log_record(record))
        except Exception as exc:  # wandb problems (login, disk) must not fail the benchmarks
            warnings.warn(redact_secrets(f"--wandb: {record.get('benchmark_id')} not logged: "
                                         f"{type(exc).__name__}: {exc}"),
                          ReportWarning, stacklevel=2)
    return written
