"""LoRA rank benchmarks: ``runner`` (one rank, the measured loop) and ``trainer_comparison``
(the measured loop against transformers' Trainer, and the trackers' own cost)."""

from llmbench.suites.lora.runner import run_lora_benchmark

__all__ = ["run_lora_benchmark"]
