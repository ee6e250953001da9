"""The ``regression`` fixture: measure (with repeats), decide, record, and fail when it should.

    checked = regression.measure(lambda seed: run_benchmark(..., seed=seed), seed=settings.seed)
    checked.result, checked.decision

Every path ends in ``_conclude``: the record is added to the session first, then the test fails
if the outcome fails. So a failure of any kind (a regression, a refused or unwritable baseline)
still leaves its row in results.json and summary.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmbench.core.redaction import redact_secrets
from llmbench.measure.machine import ProcessClock, contention
from llmbench.measure.speed_probe import PROBE_VERSION, probe_ms, speed_off
from llmbench.profiles import Profile
from llmbench.pytest_plugin.options import AUTO, accept_command
from llmbench.pytest_plugin.session import BenchSession, Record
from llmbench.pytest_plugin.terminal import format_table
from llmbench.regression import environment
from llmbench.regression.baselines import BaselineRefused, BaselineWriteError
from llmbench.regression.decide import Decision, decide
from llmbench.regression.repeats import SeedPolicy, merge_repeats
from llmbench.regression.results import Result, Scope
from llmbench.regression.verdicts import Outcome, Verdict

log = logging.getLogger("llmbench")  # repeats and confirmations: --log-cli-level=INFO
DEVICES = ("cpu", "cuda")
# --bench-repeats auto: a benchmark whose run takes under AUTO_CHEAP_S is repeated until it has
# AUTO_SAMPLES samples or AUTO_BUDGET_S of runs (as timeit.autorange calibrates its loops).
AUTO_CHEAP_S = 3.0
AUTO_SAMPLES = 3
AUTO_BUDGET_S = 10.0


@dataclass
class Checked:
    result: Result
    decision: Decision | None  # None under --update-baselines


def benchmark_id_for(item: pytest.Item) -> str:
    """``<module>/<function>/<case>``: the device is not part of the id (it selects the entry)."""
    module = Path(str(item.path)).stem.removeprefix("test_")
    function = getattr(item, "originalname", item.name).removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    case = "default"
    if callspec is not None:
        parts = [p for p in callspec.id.split("-") if p not in DEVICES]
        case = "-".join(parts) or "default"
    return f"{module}/{function}/{case}"


class RegressionCheck:
    def __init__(self, request: pytest.FixtureRequest, session: BenchSession, profile: Profile,
                 device: str) -> None:
        self.request = request
        self.session = session
        self.profile = profile
        self.device = device
        self.benchmark_id = benchmark_id_for(request.node)
        self.path = session.store.path_for(profile.name, self.benchmark_id)
        # Loaded at setup so a corrupt file is a test *error*, before minutes of measuring
        # (a worker of `llmbench ab` compares two sides, not a baseline).
        self.baseline = (None if session.rounds else
                         session.store.load(profile.name, self.benchmark_id))
        self.recorded = False
        self.started = time.perf_counter()
        self.base_seed = 0  # the profile's seed, set by measure()
        self.last_probe_ms: float | None = None  # the probe after the previous repeat

    # --- measuring ---------------------------------------------------------------------------

    def measure(self, run: Callable[[int], Result], seed: int) -> Checked:
        """Run ``run(seed)`` per the repeat policy, judge the merged result, record it."""
        self.base_seed = seed
        if self.session.rounds is not None:  # a worker of `llmbench ab`: rounds on request
            return Checked(self.session.rounds.serve(
                self._announcement(), lambda: self._run_once(run, seed, 0, None)), None)
        results = self._sample(run, seed)
        merged = self._merge(results)
        if self.session.update:
            return self._write(merged)
        decision = self._decide(merged)
        for attempt in range(1, self.session.confirm + 1):
            if not _worth_measuring_again(decision):
                break
            log.info(f"{self.benchmark_id}: {decision.outcome.value}; measuring again to "
                     f"confirm ({attempt}/{self.session.confirm})")
            before = decision.outcome
            self.last_probe_ms = None  # probe afresh: the machine may have changed speed since
            results += self._sample(run, seed)
            merged = self._merge(results)
            decision = self._decide(merged)
            merged.notes.append(f"{before.value} after {attempt} measurement(s); measured again "
                                f"(confirmation {attempt} of {self.session.confirm}), all "
                                f"{len(results)} samples together: {decision.outcome.value}")
        return self._judged(merged, decision)

    def check(self, result: Result) -> Checked:
        """Judge a result the test measured itself (e.g. with pytest-benchmark)."""
        if self.session.rounds is not None:
            return Checked(self.session.rounds.serve(self._announcement(), None, result), None)
        if not self.device.startswith("cuda") and not result.machine.get("io_bound"):
            self._apply_probe(result, self._probe())  # just after the test's own timing
        if self.session.update:
            return self._write(result)
        return self._judged(result, self._decide(result))

    def _seed(self, base: int, index: int) -> int:
        return base + index if self.session.seed_policy is SeedPolicy.FRESH else base

    def _sample(self, run: Callable[[int], Result], seed: int) -> list[Result]:
        repeats = self.session.repeats
        if repeats != AUTO:
            return [self._run_once(run, self._seed(seed, i), i, repeats) for i in range(repeats)]
        results = [self._run_once(run, self._seed(seed, 0), 0, None)]
        spent = results[0].machine.get("wall_s", AUTO_BUDGET_S)
        if spent >= AUTO_CHEAP_S:
            return results
        while len(results) < AUTO_SAMPLES and spent < AUTO_BUDGET_S:
            again = self._run_once(run, self._seed(seed, len(results)), len(results), None)
            results.append(again)
            spent += again.machine.get("wall_s", AUTO_BUDGET_S)
        return results

    def _run_once(self, run: Callable[[int], Result], seed: int, index: int,
                  count: int | None) -> Result:
        if index:
            log.info(f"{self.benchmark_id}: repeat {index + 1}"
                     f"{f'/{count}' if count else ''} (seed {seed})")
        on_cpu = not self.device.startswith("cuda")
        probed = on_cpu and self.session.rounds is None  # A/B rounds: the speed cancels
        before = (self.last_probe_ms or self._probe()) if probed else None
        with ProcessClock(threads=(environment.torch_threads() or 1) if on_cpu else 1) as clock:
            result = run(seed)
        result.machine = {**result.machine, **clock.to_dict()}
        result.repeats = {"seed": seed}  # replaced by the merged repeats summary
        computes_here = on_cpu and not result.machine.get("io_bound")
        if computes_here and _has_cost(result):
            found = contention(clock.to_dict())
            if found.busy and not result.busy:
                result.busy, result.contended = found.busy, True
            elif found.note and not result.busy:
                result.notes.append(found.note)
        if before is not None:
            self.last_probe_ms = self._probe()
            # The faster bracket: a machine at another speed for the whole repeat shows in
            # both probes; one slow reading alone is a passing hiccup (measured: 13 of 168
            # benchmarks' probes read ~2.0 ms against a typical 1.4 when the slower of the
            # brackets was kept, and a baseline that kept one called every later run busy).
            self._apply_probe(result, min(before, self.last_probe_ms), judge=computes_here)
        return result

    def _announcement(self) -> dict[str, Any]:
        """What a worker of `llmbench ab` says about the benchmark it is ready to run."""
        return {"nodeid": self.request.node.nodeid, "benchmark_id": self.benchmark_id,
                "profile": self.profile.name, "device": self.device,
                "environment": environment.fingerprint(self.device)}

    def _apply_probe(self, result: Result, probe: float, judge: bool = True) -> None:
        """Record the machine-speed probe of ``result``; its timings are busy when off."""
        result.machine = {**result.machine, "speed_probe_ms": probe,
                          "speed_probe_version": PROBE_VERSION}
        if judge and _has_cost(result):
            result.busy = result.busy or self._speed_off(probe)

    def _probe(self) -> float:
        ms = probe_ms()
        self.session.fastest_probe_ms = min(ms, self.session.fastest_probe_ms or ms)
        return ms

    def _speed_off(self, probe: float) -> str | None:
        """Why this repeat's timings cannot be judged against the baseline's: the machine ran
        at another speed (against the baseline's probe, or this session's fastest for
        baselines recorded without one)."""
        if self.session.update or not self.session.policy.compare_cost:
            return None
        recorded = (self.baseline.speed_probe_ms(environment.hardware_key(self.device),
                                                 PROBE_VERSION) if self.baseline else None)
        if recorded is not None:
            return speed_off(probe, recorded)
        return speed_off(probe, self.session.fastest_probe_ms, "at this session's fastest")

    def _merge(self, results: list[Result]) -> Result:
        seeds = [r.repeats.get("seed", self.base_seed) for r in results]
        return merge_repeats(results, seeds, self.session.seed_policy)

    def _decide(self, result: Result) -> Decision:
        return decide(result, self.baseline, environment.fingerprint(self.device),
                      self.session.policy)

    # --- concluding --------------------------------------------------------------------------

    def _record(self, result: Result, outcome: Outcome) -> Record:
        for name, metric in sorted(result.metrics.items()):
            self.request.node.user_properties.append((name, metric.value))
        return Record(self.request.node.nodeid, self.benchmark_id, self.profile.name,
                      self.device, outcome, str(self.path), result.to_dict(),
                      environment=environment.fingerprint(self.device))

    def _write(self, result: Result) -> Checked:
        record = self._record(result, Outcome.UPDATED)
        try:
            self.session.store.write(self.profile.name, self.benchmark_id, result,
                                     record.environment, self.session.provenance(),
                                     calibrate=self.session.calibrate)
            record.message = f"wrote {self.path}"
            if result.busy:  # written all the same, said where a reader of the run looks
                record.reason = (f"cost values measured on a busy machine ({result.busy}): "
                                 "re-record them on a calm one")
                record.message += f"; {record.reason}"
        except BaselineRefused as exc:
            record.outcome = Outcome.FAILED
            record.message = (f"{exc}\nNothing was written; the old file is unchanged. Fix the "
                              "cause (NaN loss, nondeterminism), or declare the metric NOISY in "
                              "its runner.")
        except BaselineWriteError as exc:
            record.outcome = Outcome.ERROR
            record.message = f"{exc}\nThe measurement is kept in results.json."
        self._conclude(record)
        return Checked(result, None)

    def _judged(self, result: Result, decision: Decision) -> Checked:
        record = self._record(result, decision.outcome)
        record.comparison = {row.name: row.to_dict() for row in decision.rows}
        record.reason = decision.reason
        entry = (self.baseline.entry("quality", self.device_class) if self.baseline else None)
        record.baseline_artifacts = (entry or {}).get("artifacts", {})
        record.message = self._message(decision)
        self._conclude(record)
        return Checked(result, decision)

    @property
    def device_class(self) -> str:
        return "cuda" if self.device.startswith("cuda") else "cpu"

    def _message(self, decision: Decision) -> str:
        accept = accept_command(self.request.config, self.request.node.nodeid)
        where = f"{self.benchmark_id} [{self.profile.name}, {self.device}]"
        outcome = decision.outcome
        if outcome is Outcome.NEW:
            return (f"{where}: new, {decision.reason} ({self.path}); create it from this run "
                    f"with:\n  {accept}")
        if outcome is Outcome.NOT_COMPARABLE:
            return (f"{where}: baseline {self.path} is not comparable: {decision.reason}. If the "
                    f"change is intended, re-baseline:\n  {accept}")
        moved = decision.moved()
        table = format_table(moved) if moved else ""
        if outcome.fails:
            return (f"{where} {outcome.value}:\n{table}\nbaseline: {self.path}\n"
                    f"if this change is intended, accept it with:\n  {accept}")
        lines = [f"{where}: {outcome.value}" + (f" ({decision.reason})" if decision.reason
                                                else "")]
        if table:
            lines.append(table)
        if outcome is Outcome.UNCONFIRMED:
            lines.append("worse beyond tolerance, but not significant with these samples: "
                         "re-run with --bench-repeats 5 (or --bench-confirm 1) to confirm or "
                         "clear it")
        if outcome is Outcome.CONFLICTING:
            lines.append("its absolute and relative timings moved in opposite directions: "
                         "neither a regression nor an improvement is established (the reasons "
                         "above say what slowed); re-run with --bench-confirm 1")
        if outcome is Outcome.IMPROVED:
            lines.append(f"consider accepting the new values: {accept}")
        return "\n".join(lines) if (table or decision.reason) else ""

    def _conclude(self, record: Record) -> None:
        record.duration_s = time.perf_counter() - self.started
        record.message, record.reason = redact_secrets(record.message), \
            redact_secrets(record.reason)
        self.session.add(record)
        self.recorded = True
        if record.outcome.fails:
            pytest.fail(record.message, pytrace=False)

    def conclude_unfinished(self, outcome: Outcome, message: str) -> None:
        """A benchmark that stopped before a verdict (crash, skip) still gets its row."""
        if self.recorded:
            return
        record = Record(self.request.node.nodeid, self.benchmark_id, self.profile.name,
                        self.device, outcome, str(self.path), message=message,
                        reason=message.splitlines()[0][:300] if message else "",
                        duration_s=time.perf_counter() - self.started)
        self.session.add(record)
        self.recorded = True


def _has_cost(result: Result) -> bool:
    return any(m.scope is Scope.COST for m in result.metrics.values())


def _worth_measuring_again(decision: Decision) -> bool:
    """Could a re-measurement change the verdict? Yes for a noisy metric that regressed or is
    unconfirmed, for timings left unjudged because the machine was busy or at another speed (it
    may be calm again), and for views of the speed that disagree; not for exact (fixed /
    seeded) rows."""
    if decision.outcome in (Outcome.BUSY, Outcome.CONFLICTING):
        return True
    return decision.outcome in (Outcome.REGRESSED, Outcome.UNCONFIRMED) and any(
        row.verdict in (Verdict.REGRESSED, Verdict.UNCONFIRMED)
        and row.tolerance != "near-exact" for row in decision.rows)


def record_for_error(request: Any, session: BenchSession, profile: Profile, device: str,
                     path: Path, message: str) -> Record:
    return Record(request.node.nodeid, benchmark_id_for(request.node), profile.name, device,
                  Outcome.ERROR, str(path), message=message)
