"""Was the machine busy while a benchmark measured? Decided from evidence of other work.

A process whose CPU time falls behind the clock was either kept off the cores by other work, or
waited by itself (blocking I/O, a lock, a sleep, a device sync, a remote call). From its CPU
share alone the two look alike, and only the first makes its timings meaningless: a slower step
that waits is a regression like one that computes. So the clock below also reads, over the same
interval:

* ``runqueue_s``: how long this process's threads were ready to run but waited for a CPU that
  other work held (Linux scheduler statistics, ``/proc/self/task/*/schedstat``): the direct
  evidence of a busy machine; a thread that sleeps or blocks is not in the run queue;
* ``other_cores`` / ``steal_cores``: CPU time the rest of the machine used, and time the
  hypervisor gave the virtual CPUs to someone else (``psutil.cpu_times``, /proc/stat);
* ``throttled_s``: time a container's CPU quota held this process's cgroup back.

The machine was busy when the process got less than ``STARVED_SHARE`` of the cores it asked for
and more than ``1 - STARVED_SHARE`` of its runnable time went to other work (run-queue waits and
steal), more than a tenth of the wall time, or a CPU quota throttled it. Measured on the 2-core VM, a one-thread loop of 2 s: alone,
or with one CPU-bound neighbour, 0.00 s in the run queue; with two neighbours, 0.84 s (CPU
1.16 s); sleeping 1 s of 2, 0.00 s. Where the scheduler statistics cannot be read, the CPU left
free by other processes stands in for them.

    with ProcessClock(threads=1) as clock:
        work()
    contention(clock.to_dict()).busy  # None, or why timings cannot be judged
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

# Below this share of the cores it asked for, the process lost a large part of the measurement;
# when more than the rest of its runnable time went to other work, the machine was busy.
STARVED_SHARE = 0.8
BUSY_MIN_WALL_S = 0.5  # the kernel accounts CPU time in ticks: shorter blocks are not checked
# ...and the time lost to other work must be more than this share of the wall time: a process
# that mostly sleeps can lose a large share of its little CPU time to a few ms of wake-up waits.
LOST_SHARE_OF_WALL = 0.1
# Throttled by a container's CPU quota for more than this share of the wall time: busy.
THROTTLED_SHARE = 0.1
TASKS = Path("/proc/self/task")
CGROUP_CPU_STAT = Path("/sys/fs/cgroup/cpu.stat")


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def runqueue_waits() -> dict[str, float] | None:
    """Seconds each thread of this process has waited in a run queue for a CPU (None where the
    scheduler statistics are not readable)."""
    waits = {}
    try:
        tids = os.listdir(TASKS)
    except OSError:
        return None
    for tid in tids:
        try:
            fields = (TASKS / tid / "schedstat").read_text().split()
            waits[tid] = int(fields[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return waits or None


def _system_times() -> tuple[float, float] | None:
    """(non-idle, steal) CPU seconds of the whole machine since boot."""
    try:
        times = psutil.cpu_times()
    except (OSError, RuntimeError):
        return None
    idle = times.idle + getattr(times, "iowait", 0.0)
    steal = getattr(times, "steal", 0.0)
    # guest time is already counted in user time on Linux
    total = sum(getattr(times, f) for f in times._fields if f not in ("guest", "guest_nice"))
    return total - idle - steal, steal


def _throttled_s() -> float | None:
    try:
        for line in CGROUP_CPU_STAT.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "throttled_usec":
                return int(value) / 1e6
    except (OSError, ValueError):
        pass
    return None


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    own: float  # this process's CPU seconds
    waits: dict[str, float] | None = field(default=None)
    system: tuple[float, float] | None = None
    throttled: float | None = None

    @classmethod
    def now(cls) -> CpuSnapshot:
        return cls(time.perf_counter(), process_cpu_seconds(), runqueue_waits(),
                   _system_times(), _throttled_s())


class ProcessClock:
    """Wall time, this process's CPU time, and the evidence of other work meanwhile."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)  # the cores the measured code asks for (torch threads)
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self.runqueue_s: float | None = None
        self.other_cores: float | None = None
        self.steal_cores = 0.0
        self.throttled_s: float | None = None
        self._start: CpuSnapshot | None = None

    def __enter__(self) -> ProcessClock:
        self._start = CpuSnapshot.now()
        return self

    def __exit__(self, *exc: object) -> None:
        start, end = self._start, CpuSnapshot.now()
        assert start is not None
        self.wall_s = end.wall - start.wall
        self.cpu_s = end.own - start.own
        if start.waits is not None and end.waits is not None:
            # threads that ended meanwhile take their waits with them: this under-counts
            self.runqueue_s = sum(max(0.0, wait - start.waits.get(tid, 0.0))
                                  for tid, wait in end.waits.items())
        if self.wall_s > 0 and start.system and end.system:
            busy, steal = (e - s for e, s in zip(end.system, start.system))
            self.other_cores = max(0.0, busy - self.cpu_s) / self.wall_s
            self.steal_cores = max(0.0, steal) / self.wall_s
        if start.throttled is not None and end.throttled is not None:
            self.throttled_s = end.throttled - start.throttled

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"wall_s": self.wall_s, "cpu_s": self.cpu_s,
                               "cpu_share": self.cpu_share, "threads": self.threads,
                               "cpu_count": psutil.cpu_count() or 1}
        optional = {"runqueue_s": self.runqueue_s, "other_cores": self.other_cores,
                    "steal_cores": self.steal_cores if self.other_cores is not None else None,
                    "throttled_s": self.throttled_s}
        return {**out, **{k: v for k, v in optional.items() if v is not None}}


@dataclass(frozen=True)
class Contention:
    busy: str | None = None  # why the timings cannot be judged: other work took the CPU
    note: str | None = None  # the process was off the CPU by itself: said, timings judged


def contention(machine: Mapping[str, Any]) -> Contention:
    """Whether other work measurably kept the process described by ``machine`` (a
    ``ProcessClock.to_dict()``) off the CPU. A low CPU share alone is not evidence: the
    process may have waited by itself, and its timings are then judged, with a note."""
    wall = float(machine.get("wall_s") or 0.0)
    if wall < BUSY_MIN_WALL_S or not isinstance(machine.get("cpu_share"), (int, float)):
        return Contention()
    cores = max(1, int(machine.get("cpu_count") or 1))
    wanted = min(max(1, int(machine.get("threads") or 1)), cores)
    cpu = float(machine.get("cpu_s", machine["cpu_share"] * wall))
    share = cpu / wall / wanted
    got = f"it got {share:.0%} of the {_cores(wanted)} it asked for over {wall:.1f} s"
    throttled = float(machine.get("throttled_s") or 0.0)
    if throttled > THROTTLED_SHARE * wall:
        return Contention(busy=f"machine busy: the container's CPU quota throttled this process "
                               f"for {throttled:.1f} s ({got})")
    if share >= STARVED_SHARE:
        return Contention()
    others = machine.get("other_cores")
    steal = float(machine.get("steal_cores") or 0.0) * wall
    used = ("" if others is None else f"other processes used {float(others):.2f} of "
            f"{_cores(cores)}" + (f", the hypervisor stole {steal / wall:.2f}" if steal >= 0.01
                                  else ""))
    waited = machine.get("runqueue_s")
    if waited is not None:
        lost = float(waited) + steal
        if lost > (1 - STARVED_SHARE) * (lost + cpu) and lost > LOST_SHARE_OF_WALL * wall:
            return Contention(busy=f"machine busy: this process waited {float(waited):.2f} s for "
                                   f"a CPU held by other work" + (f" ({used})" if used else "")
                                   + f"; {got}")
        evidence = f"{float(waited):.2f} s in the run queue" + (f"; {used}" if used else "")
    elif others is not None:
        left = cores - float(others) - steal / wall
        if left < STARVED_SHARE * wanted:
            return Contention(busy=f"machine busy: {used}, leaving {max(left, 0.0):.2f} for this "
                                   f"process; {got}")
        evidence = f"{left:.2f} of {_cores(cores)} free; {used}"
    else:
        return Contention(note=f"{got}; nothing here tells waiting from a busy machine (no "
                               "scheduler or system CPU accounting): its timings are judged")
    return Contention(note=f"{got}, the rest off the CPU by itself (waiting, or code that does "
                           f"not keep its threads busy), not for other work ({evidence}): its "
                           "timings are judged")


def _cores(n: float) -> str:
    return f"{n:g} core" + ("" if n == 1 else "s")
