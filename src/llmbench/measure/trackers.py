"""Measurement trackers: small context managers with one job each, and their reports.

    with RssSampler() as rss, CudaMemoryTracker("cuda") as mem, Timer("cuda") as timer:
        work()
    rss.report.to_dict(), mem.report.to_dict(), timer.report.to_dict()

Each report is a dataclass with ``to_dict``; sizes are in MB (10**6 bytes).
"""

from __future__ import annotations

import ctypes
import gc
import statistics
import threading
import time
from dataclasses import asdict, dataclass

import psutil
import torch

from llmbench.measure.device_memory import DeviceMemory, MemoryReading, device_memory_for

MB = 1e6


def synchronize(device: str) -> None:
    """Wait for queued CUDA work, so a clock reading covers the work launched before it."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class TimerReport:
    seconds: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class Timer:
    """Wall-clock time of the block, with CUDA synchronized at both ends."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.report: TimerReport | None = None
        self._start = 0.0

    def __enter__(self) -> Timer:
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.report = TimerReport(time.perf_counter() - self._start)


@dataclass(frozen=True)
class LatencyReport:
    """Summary of repeated durations (e.g. training steps), in seconds."""

    count: int
    total: float
    mean: float
    median: float
    stdev: float
    p90: float
    p95: float
    min: float
    max: float

    @classmethod
    def from_samples(cls, seconds: list[float]) -> LatencyReport:
        if not seconds:
            raise ValueError("no samples to summarize")
        ordered = sorted(seconds)

        def percentile(q: float) -> float:  # nearest-rank on the sorted samples
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return cls(count=len(ordered), total=sum(ordered), mean=statistics.fmean(ordered),
                   median=statistics.median(ordered),
                   stdev=statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
                   p90=percentile(0.90), p95=percentile(0.95), min=ordered[0], max=ordered[-1])

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class CudaMemoryReport:
    peak_allocated_mb: float  # the benchmark's own: growth over what it found
    peak_reserved_mb: float
    device_total_mb: float
    found_allocated_mb: float = 0.0  # held when the benchmark started (other benchmarks' models)
    found_reserved_mb: float = 0.0

    @property
    def peak_allocated_pct(self) -> float:
        return 100.0 * self.peak_allocated_mb / self.device_total_mb

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "peak_allocated_pct": self.peak_allocated_pct}


class CudaMemoryTracker:
    """Peak device memory of the block, as growth over what the benchmark found.

    ``found`` is the reading taken when the benchmark started, before it loaded its model
    (``device_memory.settled_reading``); by default, the reading on entry. The peak counters
    are reset on entry, so what the benchmark loaded before the block (its model) counts,
    earlier peaks (while loading) do not, and neither does what other benchmarks of the process
    still hold (cached models, cuBLAS workspaces). ``memory``: the device's counters (default
    ``torch.cuda``'s; tests pass a fake).
    """

    def __init__(self, device: str = "cuda", *, memory: DeviceMemory | None = None,
                 found: MemoryReading | None = None) -> None:
        if memory is None:
            memory = device_memory_for(device)
            if memory is None:
                raise ValueError(f"CudaMemoryTracker needs a CUDA device, got {device!r}")
        self.device = device
        self.memory = memory
        self.found = found
        self.report: CudaMemoryReport | None = None

    def __enter__(self) -> CudaMemoryTracker:
        self.memory.synchronize()
        if self.found is None:
            self.found = self.memory.current()
        self.memory.reset_peaks()
        return self

    def __exit__(self, *exc: object) -> None:
        self.memory.synchronize()
        peaks, found = self.memory.peaks(), self.found
        self.report = CudaMemoryReport(
            peak_allocated_mb=(peaks.allocated - found.allocated) / MB,
            peak_reserved_mb=(peaks.reserved - found.reserved) / MB,
            device_total_mb=self.memory.total() / MB,
            found_allocated_mb=found.allocated / MB,
            found_reserved_mb=found.reserved / MB,
        )


@dataclass(frozen=True)
class RssReport:
    mean_mb: float
    std_mb: float
    min_mb: float
    max_mb: float
    samples: int
    start_mb: float  # the first sample: RSS when the block began
    sampler_cpu_s: float  # CPU time the sampler thread itself used: its direct cost

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _malloc_trim() -> object:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; elsewhere freed heap stays as it is
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def return_freed_heap() -> None:
    """Hand memory the process has freed, but glibc's malloc still holds, back to the OS.

    RSS growth is measured from a block's first sample. Without this, a block that reuses heap
    an earlier benchmark freed grows RSS by less than the same block in a fresh process:
    measured, smoke LoRA r8 grew 2-42 MB within one process depending on what ran before it
    (a 6.6 MB baseline made every ``-k`` selection of it "regress" +549 %); trimmed first,
    30-43 MB.
    """
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)  # type: ignore[operator]


class RssSampler:
    """Samples this process's resident set size from a background thread.

    A sample is also taken on entry and exit, so even a short block has two. On entry the
    freed heap is first returned to the OS (``return_freed_heap``), so the growth is the block's
    own, whatever ran before it in the process.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.interval_s = interval_s
        self.report: RssReport | None = None
        self._process = psutil.Process()
        self._samples: list[int] = []
        self._cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        self._samples.append(self._process.memory_info().rss)

    def _run(self) -> None:
        start = time.thread_time()
        while not self._stop.wait(self.interval_s):
            self._sample()
        self._cpu_s = time.thread_time() - start

    def __enter__(self) -> RssSampler:
        return_freed_heap()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        mb = [s / MB for s in self._samples]
        self.report = RssReport(mean_mb=statistics.fmean(mb), std_mb=statistics.pstdev(mb),
                                min_mb=min(mb), max_mb=max(mb), samples=len(mb),
                                start_mb=mb[0], sampler_cpu_s=self._cpu_s)
