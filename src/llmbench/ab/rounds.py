"""One benchmark's rounds: play them by the schedule, judge after each, stop when decided.

Rounds go on until every judged metric is decided (``judge``), or the round cap, or this
benchmark's share of the time budget; the first ``warmup`` rounds of a warm worker are played
and not judged (first calls pay lazy initialisation). The verdict is then whatever the rounds
say, undecided metrics marked so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmbench.ab.judge import Judgement, Policy, judge_rounds
from llmbench.ab.paired import rounds_needed
from llmbench.ab.schedules import DEFAULT_SCHEDULE, Played
from llmbench.regression.results import Result
from llmbench.regression.verdicts import Outcome

DECIDED = "decided"
ROUND_CAP = "round cap"
TIME_BUDGET = "time budget"
STOPPED = "a side stopped"


@dataclass(frozen=True)
class Settings:
    schedule: str = DEFAULT_SCHEDULE
    cold: bool = False
    policy: Policy = field(default_factory=Policy)
    min_rounds: int = 10
    max_rounds: int = 40
    warmup: int = 1
    time_budget_s: float = 900.0
    timeout_s: float = 900.0  # the longest a worker may stay silent
    seed: int = 0

    @property
    def judged_from(self) -> int:
        """Rounds needed before a verdict can be decided (the interval must exist)."""
        return max(self.min_rounds, rounds_needed(self.policy.alpha))

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "cold": self.cold,
                "min_effect": self.policy.min_effect, "alpha": self.policy.alpha,
                "min_rounds": self.judged_from, "max_rounds": self.max_rounds,
                "warmup": self.warmup, "time_budget_s": self.time_budget_s,
                "timeout_s": self.timeout_s, "seed": self.seed}


@dataclass
class BenchmarkAB:
    """One benchmark of the A/B: its rounds, its verdict and how it was reached."""

    nodeid: str
    benchmark_id: str = ""
    profile: str = ""
    device: str = ""
    outcome: Outcome = Outcome.ERROR
    reason: str = ""
    env_a: dict[str, Any] = field(default_factory=dict)
    env_b: dict[str, Any] = field(default_factory=dict)
    rounds_a: list[Result] = field(default_factory=list)
    rounds_b: list[Result] = field(default_factory=list)
    plays: list[dict[str, Any]] = field(default_factory=list)  # order, cores, wall_s per round
    warmup: int = 0
    judgement: Judgement | None = None
    stopped_by: str = ""
    wall_s: float = 0.0
    decided_after: tuple[int, float] | None = None  # (judged rounds, seconds) at the decision
    last_played: dict[str, dict[str, Any]] | None = None  # each side's last answer

    def announce(self, ready_a: dict[str, Any], ready_b: dict[str, Any]) -> None:
        self.benchmark_id = ready_b.get("benchmark_id") or ready_a.get("benchmark_id") or ""
        self.profile = ready_b.get("profile", "")
        self.device = ready_b.get("device", "")
        self.env_a, self.env_b = ready_a.get("environment") or {}, ready_b.get(
            "environment") or {}

    @property
    def judged_rounds(self) -> int:
        return max(0, len(self.rounds_a) - self.warmup)

    def error(self, reason: str, outcome: Outcome = Outcome.ERROR) -> BenchmarkAB:
        self.outcome, self.reason = outcome, reason
        return self


PlayRound = Callable[[random.Random], Played]


def run_rounds(bench: BenchmarkAB, play_round: PlayRound, settings: Settings,
               rng: random.Random, budget_s: float, warmup: int,
               progress: Callable[[str], None] = print) -> BenchmarkAB:
    """Play rounds into ``bench`` until decided, capped, out of time, or a side stopped."""
    bench.warmup = warmup
    started = time.perf_counter()
    while True:
        round_started = time.perf_counter()
        played = play_round(rng)
        bench.last_played = {"A": played.a, "B": played.b}
        if played.ready and not bench.benchmark_id and all(
                r.get("event") == "ready" for r in played.ready):
            bench.announce(*played.ready)
        if not played.complete:
            bench.wall_s = time.perf_counter() - started
            bench.stopped_by = STOPPED
            return _stopped(bench, played)
        pair = Result.from_dict(played.a["result"]), Result.from_dict(played.b["result"])
        bench.rounds_a.append(pair[0])
        bench.rounds_b.append(pair[1])
        bench.plays.append({"order": played.order, "cores": played.cores,
                            "wall_s": time.perf_counter() - round_started,
                            "busy": [r.busy for r in pair],
                            "runqueue_s": [r.machine.get("runqueue_s") for r in pair],
                            "judged": len(bench.rounds_a) > warmup})
        elapsed = time.perf_counter() - started
        judged = bench.judged_rounds
        if judged >= settings.judged_from:
            bench.judgement = _judge(bench, settings)
            if bench.judgement.decided:
                bench.decided_after = (judged, elapsed)
                bench.stopped_by = DECIDED
            elif judged >= settings.max_rounds:
                bench.stopped_by = ROUND_CAP
        if not bench.stopped_by and elapsed >= budget_s:
            bench.stopped_by = TIME_BUDGET
        if bench.stopped_by:
            break
        if judged and judged % 5 == 0:
            progress(f"  {bench.benchmark_id}: {judged} rounds, {elapsed:.0f} s")
    bench.wall_s = time.perf_counter() - started
    if bench.judged_rounds:  # also when fewer than min_rounds: the verdict is then undecided
        bench.judgement = _judge(bench, settings)
    if bench.judgement is None:
        return bench.error(f"not compared: the --time-budget ({settings.time_budget_s:g} s "
                           "for the whole A/B) was spent before a round past the warm-up")
    bench.outcome = bench.judgement.outcome
    return bench


def _judge(bench: BenchmarkAB, settings: Settings) -> Judgement:
    w = bench.warmup
    return judge_rounds(bench.rounds_a[w:], bench.rounds_b[w:], bench.env_a, bench.env_b,
                        settings.policy)


def _stopped(bench: BenchmarkAB, played: Played) -> BenchmarkAB:
    """A side stopped instead of answering a round: both skipped (the benchmark cannot run
    here) is unavailable; anything else is an error, never a pass."""
    answers = {"A": played.a, "B": played.b}
    if all(e.get("event") == "stopped" and e.get("skipped") for e in answers.values()):
        return bench.error(f"skipped on both sides: {played.b.get('error', '')}",
                           Outcome.UNAVAILABLE)
    why = [f"side {side} {describe_stop(event)}" for side, event in answers.items()
           if event.get("event") != "round"]
    return bench.error("; ".join(why))


def describe_stop(event: dict[str, Any]) -> str:
    kind = event.get("event")
    if kind == "stopped":
        return ("skipped it" if event.get("skipped") else "crashed") + f": {event.get('error')}"
    if kind == "done":
        return "did not reach it (its test ended before measuring)"
    if kind == "exit":
        return f"exited (code {event.get('returncode')})"
    if kind == "timeout":
        return f"gave no answer for {event.get('seconds', 0):.0f} s"
    if kind == "not run":
        return "was not run: " + str(event.get("reason"))
    return f"answered {kind!r}"
