"""A device's memory counters behind one small protocol, so that the accounting can be tested
without a GPU.

    memory = device_memory_for("cuda")   # None on a CPU
    found = settled_reading(memory)      # before the benchmark loads anything
    ...load the model...
    with CudaMemoryTracker("cuda", memory=memory, found=found) as tracker:
        train()

A benchmark's device memory is its own: the growth over what it found when it started. A pytest
session keeps the RAG generator, the judge and the embedder cached on the device for the whole
process (``sources.models.inference_model`` and the RAG suite's caches), and each thread that
runs a matmul keeps a cuBLAS workspace from its first one on: absolute figures would depend on
which benchmarks ran before (a ``-k`` selection and the full suite differed by the ~540 MB of a
cached SmolLM2). ``settled_reading`` settles the device first: garbage collected, cached blocks
handed back to the driver, the one-off workspaces allocated.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class MemoryReading:
    allocated: int  # bytes held by live tensors
    reserved: int  # bytes the caching allocator holds from the driver


class DeviceMemory(Protocol):
    """What a tracker needs to know of a device's memory (``TorchCudaMemory``, or a test's
    fake)."""

    def synchronize(self) -> None: ...

    def warm_up(self) -> None:
        """Allocate what the first matmuls of a process allocate once and keep (workspaces)."""

    def release_cached(self) -> None:
        """Hand unused cached blocks back to the driver."""

    def current(self) -> MemoryReading: ...

    def reset_peaks(self) -> None: ...

    def peaks(self) -> MemoryReading:
        """The highest allocated and reserved bytes since the last ``reset_peaks``."""

    def total(self) -> int: ...


def settled_reading(memory: DeviceMemory) -> MemoryReading:
    """What the device holds before a benchmark starts, once nothing of it is left to settle:
    garbage collected, one-off workspaces allocated, unused cached blocks released."""
    gc.collect()
    memory.warm_up()
    memory.synchronize()
    memory.release_cached()
    return memory.current()


# Devices whose per-thread cuBLAS workspaces this process has allocated.
_WARMED: set[str] = set()


class TorchCudaMemory:
    """``torch.cuda``'s counters for one CUDA device."""

    def __init__(self, device: str = "cuda") -> None:
        if not str(device).startswith("cuda"):
            raise ValueError(f"TorchCudaMemory needs a CUDA device, got {device!r}")
        self.device = device

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def warm_up(self) -> None:
        # cuBLAS keeps a workspace per handle, and a handle per thread: the forward runs in
        # this thread, the backward in autograd's device thread. One small matmul forward and
        # backward in each dtype the benchmarks compute in allocates them all.
        if self.device in _WARMED:
            return
        dtypes = [torch.float32, torch.float16]
        if torch.cuda.is_bf16_supported():
            dtypes.append(torch.bfloat16)
        for dtype in dtypes:
            x = torch.ones(8, 8, device=self.device, dtype=dtype, requires_grad=True)
            weight = torch.ones(8, 8, device=self.device, dtype=dtype, requires_grad=True)
            bias = torch.zeros(8, device=self.device, dtype=dtype, requires_grad=True)
            (torch.nn.functional.linear(x, weight, bias) @ weight).sum().backward()
        self.synchronize()
        _WARMED.add(self.device)

    def release_cached(self) -> None:
        torch.cuda.empty_cache()

    def current(self) -> MemoryReading:
        return MemoryReading(torch.cuda.memory_allocated(self.device),
                             torch.cuda.memory_reserved(self.device))

    def reset_peaks(self) -> None:
        torch.cuda.reset_peak_memory_stats(self.device)

    def peaks(self) -> MemoryReading:
        return MemoryReading(torch.cuda.max_memory_allocated(self.device),
                             torch.cuda.max_memory_reserved(self.device))

    def total(self) -> int:
        return int(torch.cuda.get_device_properties(self.device).total_memory)


def device_memory_for(device: str) -> DeviceMemory | None:
    """The memory counters of ``device``; None for a CPU (its memory is the process's RSS)."""
    return TorchCudaMemory(device) if str(device).startswith("cuda") else None
