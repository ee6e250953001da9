import pytest
import torch
from peft import LoraConfig, get_peft_model

from llmbench.measure.reference_step import ReferenceStep
from llmbench.measure.training import (
    TrainConfig,
    TrainingDivergedError,
    TrainReport,
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


def test_relative_step_cost_divides_each_step_by_the_references_around_it():
    report = TrainReport(warmup_steps=1, step_seconds=[9.0, 2.0, 6.0],
                         reference_seconds=[1.0, 1.0, 1.0, 3.0])
    # steps 2 and 3 (after warm-up): 2 / mean(1, 1) = 2 and 6 / mean(1, 3) = 3
    assert report.relative_step_cost == 2.5
    assert TrainReport(warmup_steps=0, step_seconds=[1.0]).relative_step_cost is None


def test_a_reference_step_is_timed_around_every_step_and_changes_no_loss(examples, tokenizer):
    config = TrainConfig(steps=3, batch_size=2, lr=5e-3, warmup_steps=1)
    plain = train(lora_model(), examples, config, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(123)
    reference = ReferenceStep()
    state = torch.get_rng_state()
    referenced = train(lora_model(), examples, config, pad_token_id=tokenizer.pad_token_id,
                       reference=reference)
    assert referenced.losses == plain.losses
    assert len(referenced.reference_seconds) == 4 and min(referenced.reference_seconds) > 0
    assert referenced.relative_step_cost > 0
    assert not plain.reference_seconds and plain.relative_step_cost is None
    torch.manual_seed(123)
    ReferenceStep()
    assert torch.equal(torch.get_rng_state(), state)  # building it draws nothing from torch's RNG


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
