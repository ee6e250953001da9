"""Both sides' benchmarks in lockstep: which benchmarks to pair, and rounds for each pair.

Warm (default): one long-lived worker per side runs the selected tests in pytest's order; at
each benchmark both announce themselves (``ready``) and the rounds are played (``rounds``).
A benchmark one side reaches and the other does not (not collected there, skipped there, its
test failed before measuring) is an error, as is a side that crashes; both skipping it is
``unavailable``. A test that measures itself (``regression.check``) cannot repeat in one
process: its rounds are cold.

Cold (``--cold``): every round is a fresh pair of processes running that one test, so every
round pays start-up and loading, as a user's single run does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmbench.ab.rounds import BenchmarkAB, Settings, run_rounds
from llmbench.ab.schedules import Played, play
from llmbench.ab.sides import Side
from llmbench.ab.workers import Worker, WorkerError
from llmbench.regression.verdicts import Outcome

Progress = Callable[[str], None]
LOST = ("exit", "timeout", "garbled")  # a worker that answered so is gone


class AbSetupError(RuntimeError):
    """The A/B could not start (exit 2): a side's worker failed before serving."""


@dataclass
class Budget:
    """The time budget, shared out: each benchmark gets an equal part of what is left."""

    total_s: float
    started: float = field(default_factory=time.perf_counter)

    def share(self, benchmarks_left: int) -> float:
        left = self.total_s - (time.perf_counter() - self.started)
        return max(0.0, left) / max(1, benchmarks_left)


class AbRunner:
    def __init__(self, a: Side, b: Side, pytest_args: Sequence[str], settings: Settings,
                 log_dir: Path, progress: Progress = print) -> None:
        self.sides = {"A": a, "B": b}
        self.pytest_args = list(pytest_args)
        self.settings = settings
        self.log_dir = log_dir
        self.progress = progress
        self.rng = random.Random(settings.seed)
        self.budget = Budget(settings.time_budget_s)
        self.benchmarks: list[BenchmarkAB] = []
        self.errors: list[str] = []  # what ended the run early (a side's worker lost)
        self.order: dict[str, int] = {}  # node id -> its place in pytest's order
        self.common: list[str] = []  # collected on both sides
        self.planned: list[str] = []  # of those, not marked to skip on both
        self._spawned = 0

    # --- workers ---------------------------------------------------------------------------

    def _worker(self, name: str, only: str | None = None) -> Worker:
        self._spawned += 1
        log = self.log_dir / f"{name}-{self._spawned:03d}.log"
        return Worker(f"side {name} ({self.sides[name].spec})", self.sides[name].launch,
                      self.pytest_args, log, only=only)

    def _pair(self, only: str | None = None) -> tuple[Worker, Worker, list[str], list[str]]:
        a, b = self._worker("A", only), self._worker("B", only)
        try:
            return a, b, a.handshake(self.settings.timeout_s), b.handshake(self.settings.timeout_s)
        except WorkerError as exc:
            a.stop()
            b.stop()
            raise AbSetupError(str(exc)) from None

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> list[BenchmarkAB]:
        a, b, nodes_a, nodes_b = self._pair()
        self.order = {n: i for i, n in enumerate([*nodes_a, *(n for n in nodes_b
                                                              if n not in nodes_a)])}
        self.common = [n for n in nodes_a if n in nodes_b]
        self.planned = [n for n in self.common
                        if not (n in a.marked_skip and n in b.marked_skip)]
        for nodeid in nodes_a:
            if nodeid not in nodes_b:
                self._one_sided(nodeid, "A", "not collected there")
        for nodeid in nodes_b:
            if nodeid not in nodes_a:
                self._one_sided(nodeid, "B", "not collected there")
        if not nodes_a and not nodes_b:
            raise AbSetupError(f"pytest {' '.join(self.pytest_args)} selects no test on "
                               "either side")
        try:
            if self.settings.cold:
                a.stop(grace_s=0)  # they only listed the tests
                b.stop(grace_s=0)
                for nodeid in self.common:
                    if nodeid in self.planned:
                        self._cold(nodeid)
                    else:
                        self.benchmarks.append(BenchmarkAB(nodeid).error(
                            "marked to skip on both sides (at collection)", Outcome.UNAVAILABLE))
            else:
                self._lockstep(a, b)
        finally:
            a.stop()
            b.stop()
        self.benchmarks.sort(key=lambda bench: self.order.get(bench.nodeid, 0))
        if not self.errors and not any(bench.judgement for bench in self.benchmarks):
            self.errors.append(f"no benchmark was compared: pytest {' '.join(self.pytest_args)}"
                               " reached none on both sides (every one was skipped, or ran on "
                               "one side only)")
        return self.benchmarks

    def _one_sided(self, nodeid: str, side: str, other_said: str) -> None:
        other = "B" if side == "A" else "A"
        self.benchmarks.append(BenchmarkAB(nodeid).error(
            f"present on side {side} only (side {other}: {other_said})"))

    def _left(self) -> int:
        """Benchmarks still to measure, for sharing out the time budget (tests marked to skip
        on both sides take none)."""
        done = {bench.nodeid for bench in self.benchmarks}
        return len([n for n in self.planned if n not in done])

    def _lockstep(self, a: Worker, b: Worker) -> None:
        timeout = self.settings.timeout_s
        event_a, event_b = a.wait_for(("ready", "done"), timeout), b.wait_for(
            ("ready", "done"), timeout)
        while event_a["event"] == "ready" or event_b["event"] == "ready":
            if event_a["event"] == event_b["event"] == "ready" and \
                    event_a["nodeid"] == event_b["nodeid"]:
                bench = self._warm(a, b, event_a, event_b)
                for side, worker in (("A", a), ("B", b)):
                    answer = (bench.last_played or {}).get(side) or {}
                    if answer.get("event") in LOST:  # no use waiting for it again
                        self.errors.append(worker.failure(answer, f"in {bench.nodeid}"))
                        worker.stop(grace_s=0)
                        return
                event_a = a.wait_for(("ready", "done"), timeout)
                event_b = b.wait_for(("ready", "done"), timeout)
                continue
            # One side is at a benchmark the other passed by (or never reaches).
            ahead = self._first_ready(event_a, event_b)
            worker, other, other_event = (a, b, event_b) if ahead == "A" else (b, a, event_a)
            nodeid = (event_a if ahead == "A" else event_b)["nodeid"]
            if nodeid in self.common:  # (one not collected on the other side is listed already)
                self._one_sided(nodeid, ahead, self._what_happened(other, other_event, nodeid))
            worker.send("next")
            if ahead == "A":
                event_a = a.wait_for(("ready", "done"), timeout)
            else:
                event_b = b.wait_for(("ready", "done"), timeout)
        for worker, event in ((a, event_a), (b, event_b)):
            if event["event"] != "done":
                self.errors.append(worker.failure(event, "between benchmarks"))
        self._unmeasured(a, b)

    def _unmeasured(self, a: Worker, b: Worker) -> None:
        """Tests of both sides that never reached a measurement: both skipped is
        ``unavailable``; failing on a side is an error (a plain test passing on both is not a
        benchmark, and not listed)."""
        seen = {bench.nodeid for bench in self.benchmarks}
        for nodeid in self.common:
            if nodeid in seen:
                continue
            ends = {"A": a.finished.get(nodeid), "B": b.finished.get(nodeid)}
            outcomes = {side: (end or {}).get("outcome") for side, end in ends.items()}
            failed = [side for side, outcome in outcomes.items() if outcome == "failed"]
            if failed:
                self.benchmarks.append(BenchmarkAB(nodeid).error("; ".join(
                    f"side {side}: its test failed before measuring: "
                    f"{(ends[side] or {}).get('message', '')[-500:]}" for side in failed)))
            elif outcomes["A"] == outcomes["B"] == "skipped":
                self.benchmarks.append(BenchmarkAB(nodeid).error(
                    f"skipped on both sides: {(ends['B'] or {}).get('message', '')}",
                    Outcome.UNAVAILABLE))

    def _first_ready(self, event_a: dict[str, Any], event_b: dict[str, Any]) -> str:
        if event_b["event"] != "ready":
            return "A"
        if event_a["event"] != "ready":
            return "B"
        return "A" if self.order.get(event_a["nodeid"], 0) < self.order.get(
            event_b["nodeid"], 0) else "B"

    @staticmethod
    def _what_happened(worker: Worker, event: dict[str, Any], nodeid: str) -> str:
        finished = worker.finished.get(nodeid)
        if finished:
            return f"{finished['outcome']} before measuring: {finished['message'][:500]}"
        if event["event"] in ("exit", "timeout", "garbled"):
            return worker.failure(event, "before reaching it")
        return "never reached it"

    def _warm(self, a: Worker, b: Worker, ready_a: dict[str, Any],
              ready_b: dict[str, Any]) -> BenchmarkAB:
        bench = BenchmarkAB(ready_b["nodeid"])
        bench.announce(ready_a, ready_b)
        if not (ready_a.get("repeatable") and ready_b.get("repeatable")):
            a.send("next")
            b.send("next")
            return self._cold(bench.nodeid, bench)
        self.benchmarks.append(bench)
        self.progress(f"{bench.benchmark_id} [{bench.profile}, {bench.device}]: "
                      f"{self.settings.schedule} rounds (warm)")
        run_rounds(bench, lambda rng: play(self.settings.schedule, a, b, rng,
                                           self.settings.timeout_s),
                   self.settings, self.rng, self.budget.share(self._left() + 1),
                   self.settings.warmup, self.progress)
        self._release(a, bench, "A")
        self._release(b, bench, "B")
        self._report(bench)
        return bench

    @staticmethod
    def _release(worker: Worker, bench: BenchmarkAB, side: str) -> None:
        """Send ``next`` to a side still waiting for rounds (not to one that stopped: the
        command would skip its next benchmark)."""
        last = (bench.last_played or {}).get(side)
        if last is None or last.get("event") in ("round", "not run"):
            worker.send("next")

    def _cold(self, nodeid: str, bench: BenchmarkAB | None = None) -> BenchmarkAB:
        bench = bench or BenchmarkAB(nodeid)
        self.benchmarks.append(bench)
        self.progress(f"{bench.benchmark_id or nodeid}: {self.settings.schedule} rounds "
                      "(cold: fresh processes each round)")

        def cold_round(rng: random.Random) -> Played:
            try:
                a, b, _, _ = self._pair(only=nodeid)
            except AbSetupError as exc:
                lost = {"event": "stopped", "error": str(exc)}
                return Played(lost, lost, "A|B")
            try:
                starts = [w.wait_in_test("start", self.settings.timeout_s) for w in (a, b)]
                if any(s["event"] != "start" for s in starts):
                    return Played(starts[0], starts[1], "A|B")
                return play(self.settings.schedule, a, b, rng, self.settings.timeout_s,
                            cold=True)
            finally:
                a.stop()
                b.stop()

        run_rounds(bench, cold_round, self.settings, self.rng,
                   self.budget.share(self._left() + 1), 0, self.progress)
        self._report(bench)
        return bench

    def _report(self, bench: BenchmarkAB) -> None:
        decided = (f"decided after {bench.decided_after[0]} rounds, {bench.decided_after[1]:.0f}"
                   " s" if bench.decided_after else f"stopped: {bench.stopped_by}")
        self.progress(f"  -> {bench.outcome.value} ({bench.judged_rounds} rounds, "
                      f"{bench.wall_s:.0f} s; {decided})" + (f": {bench.reason}"
                                                             if bench.reason else ""))


__all__ = ["AbRunner", "AbSetupError", "Budget"]
