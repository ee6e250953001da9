"""Timing of the fixed inference workloads (one forward pass, one greedy generation).

A *round timer* runs ``fn`` for ``warmup_rounds`` untimed rounds, then ``rounds`` timed ones, and
returns the seconds of each timed round, or None when it could not time (pytest-benchmark's
fixture under ``--benchmark-disable`` or xdist). Its optional ``name`` attribute is recorded with
the stats. The benchmarks pass one built on pytest-benchmark's ``benchmark.pedantic``;
:func:`perf_counter_rounds` is the stand-alone default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmbench.measure.trackers import LatencyReport

RoundTimer = Callable[[Callable[[], Any], int, int], "list[float] | None"]


def perf_counter_rounds(fn: Callable[[], Any], rounds: int, warmup_rounds: int) -> list[float]:
    """``fn`` must finish its device work before returning (synchronize on CUDA)."""
    if rounds < 1 or warmup_rounds < 0:
        raise ValueError(f"need rounds >= 1 and warmup_rounds >= 0, got {rounds}, "
                         f"{warmup_rounds}")
    for _ in range(warmup_rounds):
        fn()
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def time_rounds(fn: Callable[[], Any], rounds: int, warmup_rounds: int,
                timer: RoundTimer | None = None) -> tuple[LatencyReport, str]:
    """Time ``fn`` with ``timer`` (falling back to perf_counter); return the stats and the
    name of the timer that produced them."""
    if timer is not None:
        seconds = timer(fn, rounds, warmup_rounds)
        if seconds:
            return LatencyReport.from_samples(list(seconds)), getattr(timer, "name", "custom")
    return LatencyReport.from_samples(perf_counter_rounds(fn, rounds, warmup_rounds)), \
        "perf_counter"
