import pytest
import torch
from peft import LoraConfig, get_peft_model

from llmbench.measure.training import (
    TrainConfig,
    TrainingDivergedError,
    batch_order,
    evaluate_loss,
    train,
)
from llmbench.sources.data import load_instruction_data, tokenize_examples
from llmbench.sources.models import load_model, load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-opt-random")


@pytest.fixture(scope="module")
def examples(tokenizer):
    data = load_instruction_data("fixtures:codealpaca")
    return tokenize_examples(data.train[:40], tokenizer, max_length=256)


def lora_model(seed=0):
    torch.manual_seed(seed)
    return get_peft_model(load_model("tiny-opt-random"),
                          LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=16,
                                     lora_dropout=0.1, target_modules=["q_proj", "v_proj"]))


def run(examples, tokenizer, seed=0, **overrides):
    config = TrainConfig(**{"steps": 4, "batch_size": 2, "lr": 5e-3, "seed": seed,
                            "warmup_steps": 1, **overrides})
    return train(lora_model(seed), examples, config, pad_token_id=tokenizer.pad_token_id)


def test_batch_order_visits_every_example_once_per_pass():
    order = batch_order(5, steps=5, batch_size=2, seed=0)
    flat = [i for batch in order for i in batch]
    assert sorted(flat[:5]) == list(range(5))
    assert all(len(batch) == 2 for batch in order)
    assert order == batch_order(5, steps=5, batch_size=2, seed=0)
    assert order != batch_order(5, steps=5, batch_size=2, seed=1)


def test_training_is_deterministic_with_a_fixed_seed(examples, tokenizer):
    first = run(examples, tokenizer, seed=0)
    second = run(examples, tokenizer, seed=0)
    other = run(examples, tokenizer, seed=1)
    assert first.losses == second.losses
    assert first.step_tokens == second.step_tokens
    assert first.losses != other.losses


def test_report_excludes_warmup_from_timing(examples, tokenizer):
    report = run(examples, tokenizer, warmup_steps=2)
    assert len(report.losses) == len(report.step_seconds) == 4
    assert report.measured_seconds == report.step_seconds[2:]
    assert report.latency.count == 2
    assert report.tokens_per_s == pytest.approx(sum(report.step_tokens[2:]) / report.runtime_s)


def test_training_lowers_the_loss(examples, tokenizer):
    before_model = lora_model()
    before = evaluate_loss(before_model, examples[:8], batch_size=4,
                           pad_token_id=tokenizer.pad_token_id)
    train(before_model, examples, TrainConfig(steps=12, batch_size=4, lr=5e-3),
          pad_token_id=tokenizer.pad_token_id)
    after = evaluate_loss(before_model, examples[:8], batch_size=4,
                          pad_token_id=tokenizer.pad_token_id)
    assert after < before


def test_nan_loss_names_the_step_and_config(examples, tokenizer):
    model = lora_model()
    with torch.no_grad():
        model.base_model.model.model.decoder.embed_tokens.weight.fill_(float("nan"))
    config = TrainConfig(steps=3, batch_size=2, lr=1e-3, name="LoRA r=4 on tiny-opt-random")
    with pytest.raises(TrainingDivergedError, match=r"LoRA r=4 on tiny-opt-random.*nan at step 1/3"):
        train(model, examples, config, pad_token_id=tokenizer.pad_token_id)


def test_eval_loss_weights_batches_by_tokens(examples, tokenizer):
    model = lora_model()
    one_batch = evaluate_loss(model, examples[:4], batch_size=4,
                              pad_token_id=tokenizer.pad_token_id)
    per_example = evaluate_loss(model, examples[:4], batch_size=1,
                                pad_token_id=tokenizer.pad_token_id)
    assert one_batch == pytest.approx(per_example, rel=1e-5)


def test_no_trainable_parameters(examples, tokenizer):
    model = load_model("tiny-opt-random").requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train(model, examples, TrainConfig(steps=1, batch_size=1, lr=1e-3),
              pad_token_id=tokenizer.pad_token_id)


@pytest.mark.parametrize("overrides, option", [
    ({"steps": 0}, "steps"), ({"batch_size": 0}, "batch_size"), ({"lr": 0}, "lr"),
    ({"warmup_steps": 4}, "warmup_steps"),
])
def test_bad_train_config(overrides, option):
    with pytest.raises(ValueError, match=option):
        TrainConfig(**{"steps": 4, "batch_size": 2, "lr": 1e-3, **overrides})
