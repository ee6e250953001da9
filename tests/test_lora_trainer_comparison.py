import dataclasses

import pytest

from llmbench.profiles import LoraSettings
from llmbench.suites.lora.trainer_comparison import VARIANTS, run_trainer_comparison

TINY = LoraSettings(model="tiny-opt-random", seq_len=256, batch_size=2, steps=4, lr=5e-3,
                    warmup_steps=1, eval_examples=2)


def test_loop_and_trainer_train_the_same_way():
    result = run_trainer_comparison(TINY, rank=4, repeats=1)
    assert {"loop_tokens_per_s", "trainer_tokens_per_s", "loop_vs_trainer_speed",
            "tracker_overhead_pct", "sampler_cpu_pct", "loss_curve_max_abs_diff"} <= set(result.metrics)
    for variant in VARIANTS:
        assert len(result.artifacts[f"{variant}_loss_curve"]) == TINY.steps
        assert [len(r) for r in result.artifacts[f"{variant}_step_seconds"]] == [TINY.steps]
    # Same seed, batches, optimizer and clipping: the Trainer's curve matches the loop's.
    assert result.metrics["loss_curve_max_abs_diff"].value < 0.05
    assert result.artifacts["loop_loss_curve"] == result.artifacts["loop+trackers_loss_curve"]
    assert result.params["repeats"] == 1 and result.params["rank"] == 4


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="repeats"):
        run_trainer_comparison(dataclasses.replace(TINY), rank=4, repeats=0)
