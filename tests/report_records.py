"""Records in exactly the shape the plugin writes, built with the real Result/compare code."""

from __future__ import annotations

from typing import Any

from llmbench.pytest_plugin import Record
from llmbench.regression.compare import compare_result
from llmbench.regression.results import Metric, Result, Scope
from llmbench.regression.verdicts import Outcome, outcome_of

ENV = {"device_class": "cpu", "hardware_key": "cpu/Test CPU x2", "cpu": "Test CPU",
       "cpu_count": 2, "python": "3.11.7", "os": "Linux 6.1",
       "packages": {"torch": "2.13.0", "transformers": "5.24.0", "llmbench": "0.1.0"}}


def make_record(benchmark_id: str, suite: str, metrics: dict[str, Metric],
                baseline: dict[str, float] | None = None, artifacts: dict[str, Any] | None = None,
                device: str = "cpu", profile: str = "smoke", params: dict | None = None,
                ) -> dict[str, Any]:
    """A record as RegressionCheck.check leaves it; ``baseline`` holds baseline values
    (quality and cost alike), None for a run that rewrote its baseline."""
    result = Result(suite, params or {"case": benchmark_id}, metrics, artifacts or {})
    record = Record(f"benchmarks/test_x.py::test_x[{benchmark_id}]", benchmark_id, profile,
                    device, Outcome.UPDATED, f"baselines/{profile}/{benchmark_id}.json",
                    result.to_dict(), environment=dict(ENV, device_class=device))
    if baseline is not None:
        quality = {k: v for k, v in baseline.items()
                   if k not in metrics or metrics[k].scope is Scope.QUALITY}
        cost = {k: v for k, v in baseline.items() if k in metrics and metrics[k].scope
                is Scope.COST}
        rows = compare_result(result, quality or None, cost or None)
        record.outcome = outcome_of([row.verdict for row in rows])
        record.comparison = {row.name: row.to_dict() for row in rows}
        if record.outcome is not Outcome.PASS:
            record.message = f"{benchmark_id} {record.outcome.value}"
    return record.to_dict()
