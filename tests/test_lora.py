import dataclasses

import pytest
import torch

from llmbench.measure.training import CudaOutOfMemoryError, TrainReport
from llmbench.profiles import LoraSettings, get_profile
from llmbench.regression.results import Direction, Result
from llmbench.suites.lora import runner as lora
from llmbench.suites.lora.runner import TargetModuleError, run_lora_benchmark, settling_step

TINY = LoraSettings(model="tiny-opt-random", seq_len=256, batch_size=2, steps=4, lr=5e-3,
                    warmup_steps=1, eval_examples=4, final_loss_window=2, settle_threshold=5.5,
                    settle_window=2)


@pytest.fixture(scope="module")
def tiny_result():
    return run_lora_benchmark(TINY, rank=8, device="cpu")


def test_result_has_every_metric(tiny_result):
    assert tiny_result.suite == "lora"
    expected = {"final_train_loss", "eval_loss", "settling_step", "runtime_s", "median_step_s",
                "tokens_per_s", "trainable_params", "total_params", "adapter_mb", "load_s",
                "train_examples", "rss_growth_mb", "rss_mean_mb", "rss_std_mb", "rss_min_mb",
                "rss_max_mb", "relative_step_cost"}
    assert set(tiny_result.metrics) == expected  # no CUDA metrics on the CPU
    assert all(m.is_finite for m in tiny_result.metrics.values())
    assert len(tiny_result.artifacts["loss_curve"]) == TINY.steps
    assert len(tiny_result.artifacts["reference_seconds"]) == TINY.steps + 1
    assert tiny_result.metrics["relative_step_cost"].machine_relative


def test_parameter_counts_are_exact(tiny_result):
    # 2 layers x 2 modules (q, k, v: 3) x (A: r x 64 + B: 64 x r)
    assert tiny_result.metrics["trainable_params"].value == 2 * 3 * 8 * (64 + 64)
    assert tiny_result.metrics["trainable_params"].direction is Direction.EXACT
    base = sum(p.numel() for p in lora.load_model("tiny-opt-random").parameters())
    assert tiny_result.metrics["total_params"].value == base + 2 * 3 * 8 * 128
    # float32 weights plus a small safetensors header
    assert 0 < tiny_result.metrics["adapter_mb"].value * 1e6 - 4 * 6144 < 10_000


def test_params_define_the_benchmark(tiny_result):
    params = tiny_result.params
    assert params["rank"] == 8 and params["lora_alpha"] == 32 and params["lora_dropout"] == 0.1
    assert params["target_modules"] == ["q_proj", "k_proj", "v_proj"]
    assert params["model"] == "tiny-opt-random" and params["steps"] == 4
    assert "ranks" not in params


def test_final_loss_is_the_mean_of_the_last_steps(tiny_result):
    curve = tiny_result.artifacts["loss_curve"]
    assert tiny_result.metrics["final_train_loss"].value == pytest.approx(sum(curve[-2:]) / 2)


def test_same_seed_same_losses(tiny_result):
    again = run_lora_benchmark(TINY, rank=8, device="cpu", trackers=False)
    assert again.artifacts["loss_curve"] == tiny_result.artifacts["loss_curve"]
    assert again.metrics["eval_loss"].value == tiny_result.metrics["eval_loss"].value
    assert "rss_mean_mb" not in again.metrics


def test_never_settling_is_recorded_as_steps_plus_one():
    settings = dataclasses.replace(TINY, steps=2, warmup_steps=0, settle_threshold=0.1)
    result = run_lora_benchmark(settings, rank=1, device="cpu", trackers=False)
    assert result.metrics["settling_step"].value == 3
    assert any("never went under 0.1" in note for note in result.notes)


def test_settling_step_uses_a_trailing_mean():
    losses = [5.0, 3.0, 2.5, 1.0, 3.0]
    assert settling_step(losses, threshold=2.0, window=1) == 4
    assert settling_step(losses, threshold=2.0, window=2) == 4  # (2.5 + 1.0) / 2
    assert settling_step(losses, threshold=2.0, window=3) is None  # best: 6.5 / 3
    assert settling_step(losses, threshold=2.5, window=3) == 4
    assert settling_step(losses, threshold=4.5, window=3) == 2  # trailing mean of 2 at step 2


@pytest.mark.parametrize("rank", [0, -8, 1.5, True])
def test_bad_rank_is_rejected_before_loading(rank, monkeypatch):
    monkeypatch.setattr(lora, "load_model", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(ValueError, match="rank must be an integer >= 1"):
        run_lora_benchmark(TINY, rank=rank)


def test_missing_target_module_names_the_models_modules():
    settings = dataclasses.replace(TINY, target_modules=("q_proj", "query_key_value"))
    with pytest.raises(TargetModuleError) as err:
        run_lora_benchmark(settings, rank=4)
    message = str(err.value)
    assert "['query_key_value']" in message and "tiny-opt-random" in message
    for name in ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"):
        assert name in message


def test_cuda_oom_names_the_config_and_releases_memory(monkeypatch):
    released = []

    def out_of_memory(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(lora, "_run", out_of_memory)
    monkeypatch.setattr("llmbench.measure.oom.release_memory", lambda: released.append(True))
    with pytest.raises(CudaOutOfMemoryError) as err:
        run_lora_benchmark(TINY, rank=256, device="cuda")
    assert "LoRA r=256 on tiny-opt-random (cuda" in str(err.value)
    assert "Tried to allocate 2.00 GiB" in str(err.value)
    assert err.value.__context__ is None  # no traceback pinning the model's frames
    assert released == [True]


@pytest.mark.parametrize("name", ["smoke", "embedded", "opt-350m", "opt-350m-random"])
def test_profiles_have_valid_lora_settings(name):
    settings = get_profile(name).lora
    assert all(r >= 1 for r in settings.ranks)
    assert 0 <= settings.warmup_steps < settings.steps
    assert settings.final_loss_window <= settings.steps


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("seq_len", 0), ("settle_window", 0), ("warmup_steps", -1),
    ("dataset_fraction", 0.0), ("lora_dropout", 1.0), ("ranks", (8, 0)),
])
def test_lora_settings_reject_bad_values(field, value):
    with pytest.raises(ValueError, match=f"LoraSettings.{field}"):
        dataclasses.replace(TINY, **{field: value})


def test_fewer_steps_than_warmup_still_measures_one_step():
    settings = dataclasses.replace(TINY, steps=2, warmup_steps=5)
    result = run_lora_benchmark(settings, rank=2, trackers=False)
    assert result.artifacts["latency"]["count"] == 1
    assert result.metrics["runtime_s"].value == result.artifacts["step_seconds"][-1]


def test_the_step_cost_of_long_steps_is_recorded_not_compared():
    def report(step_s):
        return TrainReport(warmup_steps=0, losses=[1.0, 1.0], step_seconds=[step_s, step_s],
                           step_tokens=[10, 10], reference_seconds=[0.005] * 3)

    short, long = Result("lora", {}), Result("lora", {})
    lora._add_training_metrics(short, TINY, report(0.03), 1.0, "cpu")
    lora._add_training_metrics(long, TINY, report(lora.CO_TIMED_STEP_S + 1), 1.0, "cpu")
    assert short.metrics["relative_step_cost"].compare and not short.notes
    assert short.metrics["relative_step_cost"].value == pytest.approx(6.0)
    assert not long.metrics["relative_step_cost"].compare
    assert "recorded, not compared" in long.notes[0]
