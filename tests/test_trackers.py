import time

import pytest

from llmbench.measure import trackers
from llmbench.measure.trackers import CudaMemoryTracker, LatencyReport, RssSampler, Timer


def test_timer_covers_the_block():
    with Timer("cpu") as timer:
        time.sleep(0.02)
    assert timer.report.seconds >= 0.02
    assert timer.report.to_dict() == {"seconds": timer.report.seconds}


def test_rss_sampler_sees_an_allocation():
    with RssSampler(interval_s=0.01) as sampler:
        block = bytearray(200 * 2**20)  # 200 MiB, touched so it is resident
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.1)
        del block
    report = sampler.report
    assert report.samples >= 3
    assert report.max_mb - report.min_mb > 150
    assert report.min_mb <= report.mean_mb <= report.max_mb
    assert report.std_mb > 0
    assert set(report.to_dict()) == {"mean_mb", "std_mb", "min_mb", "max_mb", "samples",
                                     "start_mb", "sampler_cpu_s"}
    assert report.max_mb - report.start_mb > 150
    assert report.sampler_cpu_s >= 0


@pytest.mark.skipif(trackers._MALLOC_TRIM is None, reason="no glibc malloc_trim here")
def test_rss_growth_does_not_depend_on_heap_freed_before():
    def blocks(count):
        return [bytearray(65536) for _ in range(count)]  # heap blocks, under mmap's threshold

    kept, freed = [], []
    for i, block in enumerate(blocks(2000)):
        (kept if i % 2 else freed).append(block)
    del freed  # ~65 MB freed between live blocks: malloc keeps it, and would reuse it unseen
    with RssSampler(interval_s=0.01) as sampler:
        new = blocks(1000)
    assert sampler.report.max_mb - sampler.report.start_mb > 40  # measured: 61 MB, 0.1 untrimmed
    del kept, new


def test_rss_sampler_thread_stops():
    with RssSampler(interval_s=0.01) as sampler:
        pass
    assert not sampler._thread.is_alive()
    assert sampler.report.samples >= 2  # entry and exit


def test_rss_sampler_rejects_a_bad_interval():
    with pytest.raises(ValueError, match="interval_s"):
        RssSampler(interval_s=0)


def test_cuda_memory_tracker_needs_cuda():
    with pytest.raises(ValueError, match="CUDA device"):
        CudaMemoryTracker("cpu")


def test_latency_report():
    report = LatencyReport.from_samples([0.4, 0.1, 0.2, 0.3, 1.0])
    assert report.count == 5
    assert report.median == 0.3
    assert report.min == 0.1 and report.max == 1.0
    assert report.p95 == 1.0
    assert report.total == pytest.approx(2.0)
    assert report.to_dict()["mean"] == pytest.approx(0.4)
    assert LatencyReport.from_samples([0.5]).stdev == 0.0
    with pytest.raises(ValueError, match="no samples"):
        LatencyReport.from_samples([])
