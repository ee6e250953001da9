"""How the process fared on the machine while it measured: CPU time against wall time.

A benchmark that computes on the CPU keeps at least one core busy: its process CPU time is at
least about its wall time. When other work takes the cores, the process waits for them and its
CPU time falls behind the clock; its timings then measure the machine's load, not the code.
Measured here: a LoRA step ran 4x slower on a starved process with identical code, while one
busy neighbour on the other core of this 2-core VM changed nothing (CPU share stayed 1.0).

    with ProcessClock() as clock:
        work()
    clock.cpu_share  # 1.0 = one core's worth of CPU for the whole wall time
"""

from __future__ import annotations

import resource
import time
from typing import Any

# Below this share of one core the process was starved for a large part of the measurement.
STARVED_SHARE = 0.8
BUSY_MIN_WALL_S = 0.5  # CPU time has a coarse clock: shorter blocks are not checked


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


class ProcessClock:
    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self._wall0 = 0.0
        self._cpu0 = 0.0

    def __enter__(self) -> ProcessClock:
        self._wall0, self._cpu0 = time.perf_counter(), process_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall0
        self.cpu_s = process_cpu_seconds() - self._cpu0

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "cpu_share": self.cpu_share}


def starved(cpu_share: float, wall_s: float, threshold: float = STARVED_SHARE) -> str | None:
    """Why timings of a block that got ``cpu_share`` of a core over ``wall_s`` cannot be judged,
    or None when the process was not starved (or the block was too short to tell)."""
    if wall_s < BUSY_MIN_WALL_S or cpu_share >= threshold:
        return None
    return (f"machine busy: the process got {cpu_share:.0%} of a core over "
            f"{wall_s:.1f} s (below {threshold:.0%}): other work took the CPU")
