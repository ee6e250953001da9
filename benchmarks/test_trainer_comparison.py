"""The measured loop against transformers' Trainer (tokens/s ratio) and the trackers' cost."""

import pytest

from llmbench.trainer_comparison import run_trainer_comparison

pytestmark = pytest.mark.lora


def test_loop_vs_trainer(bench_profile, bench_device, regression):
    settings = bench_profile.lora
    result = run_trainer_comparison(settings, rank=settings.ranks[0], device=bench_device)
    regression.check(result)
