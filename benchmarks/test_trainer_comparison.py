"""The measured loop against transformers' Trainer (tokens/s ratio) and the trackers' cost."""

from dataclasses import replace

import pytest

from llmbench.suites.lora.trainer_comparison import run_trainer_comparison

pytestmark = pytest.mark.lora

TRACKER_BUDGET_PCT = 2.0  # the trackers may cost at most this share of the training time
# The comparison trains one fixed rank, whatever the rank matrix (--lora-ranks) holds, so
# overriding the matrix does not change what this benchmark measures.
COMPARISON_RANK = 8


def test_loop_vs_trainer(bench_profile, bench_device, regression):
    settings = bench_profile.lora
    checked = regression.measure(
        lambda seed: run_trainer_comparison(replace(settings, seed=seed), rank=COMPARISON_RANK,
                                            device=bench_device),
        seed=settings.seed)
    sampler_pct = checked.result.metrics["sampler_cpu_pct"].value
    assert sampler_pct < TRACKER_BUDGET_PCT, (
        f"the RSS sampler used {sampler_pct:.2f}% of the training time "
        f"(budget {TRACKER_BUDGET_PCT}%)")
