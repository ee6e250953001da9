"""float16 training with autocast and a loss scaler (QLoRA of float16 models on CUDA).

The step is device-agnostic, so it runs here on the CPU (torch autocasts matmuls to float16 on
CPUs too); the runner turns it on for CUDA only, and CPU runs keep the plain loop.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from llmbench.measure.training import MixedPrecision, TrainConfig, mixed_precision_step, train
from llmbench.profiles import PROFILES
from llmbench.suites.quant.precisions import get_precision
from llmbench.suites.quant.qlora import qlora_mixed_precision

CPU_FP16 = MixedPrecision("cpu", torch.float16)
SMALL = 1e-9  # d(loss)/d(output): under float16's smallest subnormal (6e-8)


class Adapter(torch.nn.Module):
    """A trainable float32 matrix in front of a frozen float16 one: LoRA on a float16 model."""

    def __init__(self) -> None:
        super().__init__()
        self.trained = torch.nn.Parameter(torch.full((4, 4), 0.5))
        self.register_buffer("frozen", torch.full((4, 4), 0.25, dtype=torch.float16))

    def forward(self, x: torch.Tensor) -> SimpleNamespace:
        # under autocast both matmuls run in float16, and so do their backward passes
        out = (x @ self.trained) @ self.frozen.float()
        return SimpleNamespace(loss=out.float().sum() * SMALL)


def true_gradient() -> torch.Tensor:
    model = Adapter()
    model(torch.ones(2, 4)).loss.backward()
    return model.trained.grad


def step(model, scaler=None, clip=1.0):
    optimizer = torch.optim.AdamW([model.trained], lr=0.0, fused=True)
    if scaler is None:
        with torch.autocast("cpu", dtype=torch.float16):
            loss = model(torch.ones(2, 4)).loss
        loss.backward()
        return
    mixed_precision_step(model, {"x": torch.ones(2, 4)}, optimizer, [model.trained], clip,
                         CPU_FP16, scaler)


def test_small_float16_gradients_vanish_without_a_loss_scaler_and_survive_with_one():
    plain = Adapter()
    step(plain)
    assert torch.count_nonzero(plain.trained.grad) == 0  # underflowed in the float16 matmul

    captured = {}
    scaled = Adapter()
    optimizer_step = torch.optim.AdamW.step

    def keep_grad(self, *args, **kwargs):
        captured["grad"] = scaled.trained.grad.clone()
        return optimizer_step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.AdamW, "step", keep_grad)
        step(scaled, torch.amp.GradScaler("cpu"), clip=1e9)
    assert torch.allclose(captured["grad"], true_gradient(), rtol=1e-2)


def test_gradients_are_unscaled_before_clipping(monkeypatch):
    norms = []
    clip = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        norms.append(float(torch.linalg.vector_norm(params[0].grad)))
        return clip(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    scaler = torch.amp.GradScaler("cpu")
    step(Adapter(), scaler)
    assert scaler.get_scale() > 1000  # the loss was scaled up ...
    expected = float(torch.linalg.vector_norm(true_gradient()))
    assert norms == [pytest.approx(expected, rel=1e-2)]  # ... and clipped at its true size


def test_training_with_mixed_precision_reports_the_loss_scale():
    from peft import LoraConfig, get_peft_model

    from llmbench.sources.data import load_instruction_data, tokenize_examples
    from llmbench.sources.models import load_model, load_tokenizer

    tokenizer = load_tokenizer("tiny-opt-random")
    examples = tokenize_examples(load_instruction_data("fixtures:codealpaca").train[:8],
                                 tokenizer, max_length=256)
    torch.manual_seed(0)
    model = get_peft_model(load_model("tiny-opt-random", dtype=torch.float16),
                           LoraConfig(task_type="CAUSAL_LM", r=4, target_modules=["q_proj"]))
    config = TrainConfig(steps=3, batch_size=2, lr=1e-3, mixed_precision=CPU_FP16)
    report = train(model, examples, config, pad_token_id=tokenizer.pad_token_id)
    assert len(report.losses) == 3 and all(loss == loss for loss in report.losses)
    assert report.loss_scale is not None and report.loss_scale >= 1
    assert 0 <= report.skipped_steps <= 3
    assert TrainConfig(steps=1, batch_size=1, lr=1e-3).mixed_precision is None


@pytest.mark.parametrize(("precision", "compute_dtype", "device", "mixed"), [
    ("fp16", "float32", "cuda", True),  # float16 weights: activations in float16
    ("fp16", "float32", "cuda:1", True),
    ("nf4", "float16", "cuda", True),  # dequantized to a float16 compute dtype
    ("int8", "float16", "cuda", True),
    ("fp16", "float32", "cpu", False),  # CPU runs keep the loop their baselines measured
    ("bf16", "float32", "cuda", False),  # bfloat16 has float32's range
    ("nf4", "bfloat16", "cuda", False),
    ("fp32", "float32", "cuda", False),
])
def test_qlora_scales_the_loss_of_float16_models_on_cuda_only(precision, compute_dtype, device,
                                                              mixed):
    settings = dataclasses.replace(PROFILES["opt-350m-random"].quant, compute_dtype=compute_dtype)
    chosen = qlora_mixed_precision(settings, get_precision(precision), device)
    assert chosen == (MixedPrecision("cuda", torch.float16) if mixed else None)
