"""The run's state: one ``Record`` per benchmark, the baseline store, and the report at the end."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmbench.core.redaction import redact_data
from llmbench.pytest_plugin.ab_worker import RoundServer
from llmbench.pytest_plugin.options import AUTO, CALIBRATION_REPEATS, rooted
from llmbench.regression import environment
from llmbench.regression.baselines import BaselineStore
from llmbench.regression.decide import Policy
from llmbench.regression.repeats import SeedPolicy
from llmbench.regression.verdicts import Outcome


@dataclass
class Record:
    """What the session keeps of one benchmark, for the summary and results.json."""

    nodeid: str
    benchmark_id: str
    profile: str
    device: str
    outcome: Outcome
    baseline_path: str
    result: dict[str, Any] | None = None
    comparison: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    baseline_artifacts: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # one line: why (not comparable, new, not compared, busy, unavailable)
    duration_s: float | None = None  # wall time of the whole benchmark (all repeats)

    def to_dict(self) -> dict[str, Any]:
        data = redact_data(asdict(self))  # the record leaves the process: no secret in it
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        return cls(**{**data, "outcome": Outcome(data["outcome"])})


class BenchSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.calibrate = bool(config.getoption("calibrate"))
        self.update = bool(config.getoption("update_baselines")) or self.calibrate
        repeats = config.getoption("bench_repeats")
        if self.calibrate and repeats == AUTO:
            repeats = CALIBRATION_REPEATS
        self.repeats: int | str = repeats
        self.seed_policy = SeedPolicy(config.getoption("bench_seeds"))
        self.confirm = int(config.getoption("bench_confirm"))
        self.policy = Policy(compare_cost=not config.getoption("no_cost_compare"),
                             alpha=float(config.getoption("bench_alpha")))
        self.store = BaselineStore(rooted(config, "baseline_dir"))
        self.report_dir = rooted(config, "bench_report")
        self.records: list[Record] = []
        self.written_report: Path | None = None
        self.fastest_probe_ms: float | None = None  # machine-speed probe (measure.speed_probe)
        # Set when `llmbench ab` drives this session (--ab-worker): rounds instead of verdicts.
        self.rounds: RoundServer | None = None

    def provenance(self) -> dict[str, Any]:
        """Who accepted a baseline, when, why, from which commit."""
        return {**environment.provenance(),
                "author": self.config.getoption("baseline_author") or environment.author(),
                "reason": self.config.getoption("baseline_reason"),
                "calibrated": self.calibrate}

    def add(self, record: Record) -> None:
        self.records.append(record)

    def records_as_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]

    def write_report(self) -> None:
        """results.json and summary.md; a report that cannot be written is a warning, never a
        lost run (the terminal summary still shows every verdict)."""
        from llmbench.report import write_report

        try:
            self.written_report = write_report(self.report_dir, self.records_as_dicts())
        except OSError as exc:
            warnings.warn(f"llmbench: cannot write the report to {self.report_dir}: {exc}",
                          pytest.PytestWarning, stacklevel=1)
