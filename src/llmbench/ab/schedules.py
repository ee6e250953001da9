"""One round of both sides, by one of two schedules:

* ``interleaved`` (RMIT, Abedi & Brecht, ICPE 2017): A and B one after the other, in a random
  order each round, so a slow spell of the machine falls on either side at random;
* ``duet`` (Bulej et al., ICPE 2020): A and B at the same moment, each pinned to a core of its
  own (drawn at random each round, so neither side keeps the better core); whatever slows the
  machine meanwhile slows both, and their ratio cancels it.

A warm round is one ``round`` command to each worker. A cold round's workers are fresh
processes waiting at the start of their test (``start``): they are let go by the schedule too,
so a test that measures itself in its body is timed by the schedule as well.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

from llmbench.ab.workers import Worker

INTERLEAVED = "interleaved"
DUET = "duet"
SCHEDULES = (DUET, INTERLEAVED)
# Measured in docs/ab-study: as sensitive as interleaved and twice as fast to decide on the 2-core
# VM, whose speed flips within seconds; $LLMBENCH_AB_SCHEDULE overrides.
DEFAULT_SCHEDULE = DUET
SCHEDULE_ENV = "LLMBENCH_AB_SCHEDULE"


class ScheduleError(ValueError):
    pass


def default_schedule() -> str:
    chosen = os.environ.get(SCHEDULE_ENV) or DEFAULT_SCHEDULE
    if chosen not in SCHEDULES:
        raise ScheduleError(f"${SCHEDULE_ENV}={chosen!r}: choose one of {', '.join(SCHEDULES)}")
    return chosen


def duet_cores() -> list[int]:
    """The cores this process may use; a duet needs two."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        raise ScheduleError("the duet schedule pins each side to a core, which needs Linux "
                            "(os.sched_setaffinity); use --schedule interleaved") from None
    if len(cores) < 2:
        raise ScheduleError(f"the duet schedule needs two cores, this process may use "
                            f"{len(cores)}; use --schedule interleaved")
    return cores


@dataclass
class Played:
    """What each side answered this round: a ``round`` event (its result), or why not."""

    a: dict[str, Any]
    b: dict[str, Any]
    order: str  # "AB", "BA" or "A|B" (at once)
    cores: tuple[int, int] | None = None
    ready: tuple[dict[str, Any], dict[str, Any]] | None = None  # cold: what each announced

    @property
    def complete(self) -> bool:
        return self.a.get("event") == "round" and self.b.get("event") == "round"


SKIPPED = {"event": "not run", "reason": "the other side stopped first"}


def play(schedule: str, a: Worker, b: Worker, rng: random.Random, timeout: float,
         cold: bool = False) -> Played:
    if schedule == DUET:
        cores = tuple(rng.sample(duet_cores(), 2))
        a.pin({cores[0]})
        b.pin({cores[1]})
        ready = None
        if cold:
            for worker in (a, b):
                worker.send("round")  # let the test start
            ready = (_ready(a, timeout), _ready(b, timeout))
            if any(event["event"] != "ready" for event in ready):
                return Played(ready[0], ready[1], "A|B", cores, ready)
        for worker in (a, b):
            worker.send("round")
        return Played(_answer(a, timeout), _answer(b, timeout), "A|B", cores, ready)
    first, second = (a, b) if rng.random() < 0.5 else (b, a)
    answers: dict[int, dict[str, Any]] = {}
    announced: dict[int, dict[str, Any]] = {}
    for worker in (first, second):
        if cold:
            worker.send("round")  # let the test start
            announced[id(worker)] = _ready(worker, timeout)
            if announced[id(worker)]["event"] != "ready":
                answers[id(worker)] = announced[id(worker)]
                answers.setdefault(id(second), SKIPPED)
                break
        worker.send("round")
        answers[id(worker)] = _answer(worker, timeout)
        if answers[id(worker)]["event"] != "round":
            answers.setdefault(id(second), SKIPPED)
            break
    ready = ((announced.get(id(a), SKIPPED), announced.get(id(b), SKIPPED)) if cold else None)
    return Played(answers[id(a)], answers[id(b)], "AB" if first is a else "BA", None, ready)


def _ready(worker: Worker, timeout: float) -> dict[str, Any]:
    return worker.wait_in_test("ready", timeout)


def _answer(worker: Worker, timeout: float) -> dict[str, Any]:
    return worker.wait_for(("round", "stopped"), timeout)
