"""A GPU's memory counters played on a CPU (``llmbench.measure.device_memory.DeviceMemory``).

* ``hold(model)``: the model's parameters and buffers count as allocated until Python frees
  them (a ``weakref.finalize`` per tensor), as a CUDA caching allocator counts live tensors.
* The first matmuls of a process allocate a workspace that stays: at ``warm_up()``, or in the
  first tracked block when nothing warmed up before.
* A tracked block (between ``reset_peaks`` and ``peaks``) adds ``transient`` bytes to the peak:
  activations, gradients, optimizer states.
* Reserved memory grows with allocated memory and shrinks to it at ``release_cached()``.
"""

from __future__ import annotations

import weakref
from typing import Any

from llmbench.measure.device_memory import MemoryReading

MB = 10**6


def tensor_bytes(module: Any) -> list[tuple[Any, int]]:
    tensors = [*module.parameters(), *module.buffers()]
    return [(t, t.numel() * t.element_size()) for t in tensors]


class FakeDeviceMemory:
    def __init__(self, *, workspace: int = 32 * MB, transient: int = 100 * MB,
                 total: int = 80_000 * MB) -> None:
        self.workspace = workspace
        self.transient = transient
        self._total = total
        self.allocated = 0
        self.reserved = 0
        self.warmed = False
        self.peak = MemoryReading(0, 0)
        self.in_block = False

    # -- what the test plays ----------------------------------------------------------------

    def hold(self, module: Any) -> Any:
        for tensor, size in tensor_bytes(module):
            self._allocate(size)
            weakref.finalize(tensor, self._free, size)
        return module

    def _allocate(self, size: int) -> None:
        self.allocated += size
        self.reserved = max(self.reserved, self.allocated)

    def _free(self, size: int) -> None:
        self.allocated -= size

    # -- the DeviceMemory protocol ------------------------------------------------------------

    def synchronize(self) -> None:
        pass

    def warm_up(self) -> None:
        if not self.warmed:
            self._allocate(self.workspace)
            self.warmed = True

    def release_cached(self) -> None:
        self.reserved = self.allocated

    def current(self) -> MemoryReading:
        return MemoryReading(self.allocated, self.reserved)

    def reset_peaks(self) -> None:
        self.in_block = True

    def peaks(self) -> MemoryReading:
        assert self.in_block, "peaks() without reset_peaks()"
        self.in_block = False
        self.warm_up()  # the block's matmuls, if nothing ran one before
        top = self.allocated + self.transient
        self.reserved = max(self.reserved, top)
        return MemoryReading(top, self.reserved)

    def total(self) -> int:
        return self._total
