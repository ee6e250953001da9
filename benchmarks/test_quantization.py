"""Quantization precision benchmarks: what each precision saves in memory and costs in accuracy.

One case per precision id (fp32 fp16 bf16 int8 nf4 fp4 nf4-dq) on each device; the fp32 case
runs first and is the reference for the others' ``eval_loss_delta_vs_fp32``. Greedy generation
is timed with pytest-benchmark's ``benchmark`` fixture (pedantic: fixed rounds after warm-up);
its statistics go into the result. A precision the device or installation cannot run is skipped
with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from llmbench.profiles import ALL_PRECISIONS
from llmbench.pytest_plugin import collection_profiles
from llmbench.suites.quant import PrecisionUnavailable, run_quant_benchmark

pytestmark = pytest.mark.quant


class PedanticTimer:
    """A round timer (see ``llmbench.measure.latency``) on top of ``benchmark.pedantic``."""

    name = "pytest-benchmark"

    def __init__(self, benchmark: Any) -> None:
        self.benchmark = benchmark
        self.stats: dict[str, Any] | None = None
        self.used = False  # the benchmark fixture may be used once per test

    def __call__(self, fn: Callable[[], Any], rounds: int, warmup_rounds: int
                 ) -> list[float] | None:
        self.benchmark.pedantic(fn, rounds=rounds, warmup_rounds=warmup_rounds, iterations=1)
        metadata = getattr(self.benchmark, "stats", None)
        if metadata is None:  # --benchmark-disable, or xdist: the runner times by itself
            return None
        self.stats = metadata.stats.as_dict()
        return list(metadata.stats.data)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "precision" in metafunc.fixturenames:
        # every device's profile (a project profile's quant.precisions, or --precisions),
        # fp32 first: it is the reference of the others
        wanted = {p for profile in collection_profiles(metafunc.config)
                  for p in profile.quant.precisions}
        # as a mark, so pytest applies it after the plugin's device axis: ids stay "cpu-nf4"
        metafunc.definition.add_marker(pytest.mark.parametrize(
            "precision", [p for p in ALL_PRECISIONS if p in wanted]))


def test_precision(precision, bench_profile, bench_device, regression, benchmark):
    settings = bench_profile.quant
    if precision not in settings.precisions:
        pytest.skip(f"profile {bench_profile.name!r} does not include precision {precision}")
    benchmark.group = f"quant generate ({bench_profile.name}, {bench_device})"
    benchmark.extra_info.update(precision=precision, model=settings.model,
                                new_tokens=settings.generate_tokens)
    timer = PedanticTimer(benchmark)

    def run(seed: int):
        # pytest-benchmark times the first run; later repeats time their rounds themselves
        first = not timer.used
        timer.used = True
        result = run_quant_benchmark(replace(settings, seed=seed), precision, bench_device,
                                     timer=timer if first else None)
        if first and timer.stats is not None:
            result.artifacts["pytest_benchmark"] = timer.stats
        return result

    try:
        regression.measure(run, seed=settings.seed)
    except PrecisionUnavailable as exc:
        pytest.skip(exc.reason)
