"""QLoRA on a model loaded at one precision: the quantization suite's training half.

    qlora = run_qlora(model, precision, settings, train_set, pad_token_id, device, name)
    add_qlora_metrics(result, qlora, device)

LoRA r=``qlora_rank`` with the LoRA suite's recipe; bitsandbytes models are prepared the QLoRA
way (frozen, non-quantized parameters upcast to float32). A model that computes in float16 trains
on CUDA under autocast with a loss scaler (``qlora_mixed_precision``). With device memory
counters, the peak is the benchmark's own: growth over ``found``, what the device held when the
benchmark started (``measure.device_memory``).
"""

from __future__ import annotations

from typing import Any

import torch
from peft import get_peft_model, prepare_model_for_kbit_training

from llmbench.measure.adapters import check_target_modules, lora_config
from llmbench.measure.device_memory import DeviceMemory, MemoryReading
from llmbench.measure.trackers import CudaMemoryTracker
from llmbench.measure.training import MixedPrecision, TrainConfig, train
from llmbench.profiles import LoraSettings, QuantSettings
from llmbench.regression.results import Direction, Metric, Result, cost, quality, seeded_on
from llmbench.sources.data import TokenizedExample
from llmbench.suites.quant.precisions import Precision, activation_dtype


def qlora_mixed_precision(settings: QuantSettings, precision: Precision, device: str
                          ) -> MixedPrecision | None:
    """Autocast + loss scaling for a model that computes in float16 on CUDA; None elsewhere
    (bfloat16 has float32's range, and CPU runs keep the plain loop their baselines measured)."""
    if (device.startswith("cuda")
            and activation_dtype(precision.id, settings.compute_dtype) is torch.float16):
        return MixedPrecision("cuda", torch.float16)
    return None


def run_qlora(model: torch.nn.Module, precision: Precision, settings: QuantSettings,
              train_set: list[TokenizedExample], pad_token_id: int, device: str, name: str,
              memory: DeviceMemory | None = None, found: MemoryReading | None = None
              ) -> dict[str, Any]:
    lora = lora_config(LoraSettings(model=settings.model), settings.qlora_rank)
    check_target_modules(model, tuple(lora.target_modules), settings.model)
    checkpointing = {"use_reentrant": False}
    if precision.is_bitsandbytes:
        # The QLoRA recipe: freeze, upcast the non-quantized parameters to float32.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=settings.gradient_checkpointing,
            gradient_checkpointing_kwargs=checkpointing)
    elif settings.gradient_checkpointing:
        # fp16/bf16 stay as loaded (the kbit preparation would upcast them to float32).
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
    torch.manual_seed(settings.seed)  # LoRA's A matrices are initialised randomly
    model = get_peft_model(model, lora)
    trainable, _ = model.get_nb_trainable_parameters()
    mixed = qlora_mixed_precision(settings, precision, device)
    config = TrainConfig(steps=settings.qlora_steps, batch_size=settings.batch_size,
                         lr=settings.lr, seed=settings.seed,
                         warmup_steps=min(settings.qlora_warmup_steps, settings.qlora_steps - 1),
                         name=f"QLoRA r={settings.qlora_rank}, {name}", mixed_precision=mixed)
    cuda_memory = None
    if memory:
        with CudaMemoryTracker(device, memory=memory, found=found) as cuda_memory:
            report = train(model, train_set, config, pad_token_id=pad_token_id, device=device)
    else:
        report = train(model, train_set, config, pad_token_id=pad_token_id, device=device)
    return {"report": report, "trainable_params": trainable, "loss_curve": report.losses,
            "step_seconds": report.step_seconds, "warmup_steps": report.warmup_steps,
            "cuda_memory": cuda_memory.report.to_dict() if cuda_memory else None,
            "mixed_precision": (f"autocast {str(mixed.dtype).removeprefix('torch.')} + "
                                "GradScaler" if mixed else None),
            "skipped_steps": report.skipped_steps, "loss_scale": report.loss_scale}


def add_qlora_metrics(result: Result, qlora: dict[str, Any], device: str) -> None:
    report = qlora["report"]
    result.add("qlora_final_loss", quality(report.losses[-1], "nats", kind="loss", device=device,
                                           determinism=seeded_on(device)))
    result.add("qlora_runtime_s", cost(report.runtime_s, "s", kind="time", device=device))
    result.add("qlora_tokens_per_s", cost(report.tokens_per_s, "tokens/s", "higher",
                                          kind="throughput", device=device))
    result.add("qlora_trainable_params", Metric(qlora["trainable_params"], "params",
                                                Direction.EXACT))
    if qlora["cuda_memory"]:
        mem = qlora["cuda_memory"]
        result.add("peak_cuda_allocated_mb", cost(mem["peak_allocated_mb"], "MB", kind="memory",
                                                  device=device))
        result.add("peak_cuda_reserved_mb", cost(mem["peak_reserved_mb"], "MB", kind="memory",
                                                 device=device))
