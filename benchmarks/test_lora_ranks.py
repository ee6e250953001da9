"""LoRA rank vs training performance: loss, settling, runtime and memory per rank.

The CPU default profile is ``embedded`` (SmolLM2-135M); ``--bench-profile smoke`` runs the tiny
random OPT in seconds; ``-m gpu`` runs ``opt-350m-random`` on CUDA.
"""

from dataclasses import replace

import pytest

from llmbench.suites.lora.runner import run_lora_benchmark

pytestmark = pytest.mark.lora

RANKS = [8, 128, 256]


@pytest.mark.parametrize("rank", RANKS, ids=lambda r: f"r{r}")
def test_lora_rank(rank, bench_profile, bench_device, regression):
    if rank not in bench_profile.lora.ranks:
        pytest.skip(f"rank {rank} is not in profile {bench_profile.name!r}")
    settings = bench_profile.lora
    regression.measure(
        lambda seed: run_lora_benchmark(replace(settings, seed=seed), rank=rank,
                                        device=bench_device),
        seed=settings.seed)
