"""LoRA rank vs training performance: loss, settling, runtime and memory per rank.

The CPU default profile is ``embedded`` (SmolLM2-135M); ``--bench-profile smoke`` runs the tiny
random OPT in seconds; ``-m gpu`` runs ``opt-350m-random`` on CUDA. The ranks are the resolved
profile's (a project profile's ``lora.ranks``, or ``--lora-ranks 8,64``); ids stay ``r<rank>``.
"""

from dataclasses import replace

import pytest

from llmbench.pytest_plugin import collection_profiles
from llmbench.suites.lora.runner import run_lora_benchmark

pytestmark = pytest.mark.lora


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rank" in metafunc.fixturenames:
        # every device's profile; a rank outside the one a case runs with skips below
        ranks = sorted({r for p in collection_profiles(metafunc.config) for r in p.lora.ranks})
        # as a mark, so pytest applies it after the plugin's device axis: ids stay "cpu-r8"
        metafunc.definition.add_marker(pytest.mark.parametrize("rank", ranks,
                                                               ids=lambda r: f"r{r}"))


def test_lora_rank(rank, bench_profile, bench_device, regression):
    if rank not in bench_profile.lora.ranks:
        pytest.skip(f"rank {rank} is not in profile {bench_profile.name!r}")
    settings = bench_profile.lora
    regression.measure(
        lambda seed: run_lora_benchmark(replace(settings, seed=seed), rank=rank,
                                        device=bench_device),
        seed=settings.seed)
