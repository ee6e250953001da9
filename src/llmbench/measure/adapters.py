"""LoRA adapters as every suite builds them (LoRA ranks, QLoRA, the Trainer comparison):
``LoraConfig(task_type=CAUSAL_LM, r, lora_alpha=alpha_per_rank * r, lora_dropout, targets)``,
with a clear error when a target module is not in the model."""

from __future__ import annotations

import torch
from peft import LoraConfig, TaskType

from llmbench.profiles import LoraSettings


class TargetModuleError(ValueError):
    """A LoRA target module name that the model does not have."""


def lora_config(settings: LoraSettings, rank: int) -> LoraConfig:
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise ValueError(f"LoRA rank must be an integer >= 1, got {rank!r}")
    return LoraConfig(task_type=TaskType.CAUSAL_LM, r=rank,
                      lora_alpha=settings.alpha_per_rank * rank,
                      lora_dropout=settings.lora_dropout,
                      target_modules=list(settings.target_modules))


def linear_module_names(model: torch.nn.Module) -> list[str]:
    """Short names (``q_proj``) of the model's linear layers: what LoRA can target."""
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear)})


def check_target_modules(model: torch.nn.Module, targets: tuple[str, ...], spec: str) -> None:
    available = linear_module_names(model)
    missing = [t for t in targets if t not in available]
    if missing:
        raise TargetModuleError(
            f"LoRA target modules {missing} are not in model {spec!r}; "
            f"its linear modules are: {', '.join(available)}")
