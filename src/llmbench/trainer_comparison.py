"""Is the measured loop as fast as transformers' Trainer, and what do the trackers cost?

Three variants train the same LoRA model (same seed, same batches in the same order, same
AdamW, same gradient clipping) for the same steps:

* ``loop``          -- ``llmbench.training.train`` without trackers,
* ``loop+trackers`` -- the same, inside the RSS sampler (and CUDA memory tracker on CUDA),
* ``trainer``       -- ``transformers.Trainer``; a step's time is the interval between the
  ``on_step_end`` callbacks, so it includes the Trainer's own data loading and bookkeeping.

The variants run interleaved ``repeats`` times; each variant keeps its fastest repeat (the
least disturbed by other processes). Step times exclude the warm-up steps as in the LoRA suite.
"""

from __future__ import annotations

import contextlib
import tempfile
import time

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from llmbench.lora import (
    benchmark_params,
    build_lora_model,
    lora_config,
    prepare_data,
    train_config,
)
from llmbench.profiles import LoraSettings
from llmbench.results import Result, cost, info, quality
from llmbench.sources.data import TokenizedExample, collate
from llmbench.sources.models import load_tokenizer
from llmbench.trackers import CudaMemoryTracker, RssSampler, synchronize
from llmbench.training import TrainConfig, TrainReport, batch_order, release_memory, train

VARIANTS = ("loop", "loop+trackers", "trainer")


class _OrderedExamples(torch.utils.data.IterableDataset):
    """Yields examples in a fixed order; Trainer uses no sampler for an IterableDataset."""

    def __init__(self, examples: list[TokenizedExample]) -> None:
        self.examples = examples

    def __iter__(self):
        return iter(self.examples)


class _StepClock(TrainerCallback):
    def __init__(self, device: str) -> None:
        self.device = device
        self.marks: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        if not self.marks:
            synchronize(self.device)
            self.marks.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        synchronize(self.device)
        self.marks.append(time.perf_counter())


def _train_with_trainer(model: torch.nn.Module, ordered: list[TokenizedExample],
                        config: TrainConfig, pad_token_id: int, device: str) -> TrainReport:
    clock = _StepClock(device)
    losses: list[float] = []

    class RecordingTrainer(Trainer):
        def compute_loss(self, model, inputs, *args, **kwargs):
            loss = super().compute_loss(model, inputs, *args, **kwargs)
            losses.append(float(loss.detach()))
            return loss

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, max_steps=config.steps, per_device_train_batch_size=config.batch_size,
            learning_rate=config.lr, lr_scheduler_type="constant", warmup_steps=0,
            weight_decay=0.0, max_grad_norm=config.max_grad_norm, seed=config.seed,
            logging_strategy="no", save_strategy="no", report_to=[], disable_tqdm=True,
            use_cpu=not device.startswith("cuda"), dataloader_pin_memory=False,
            remove_unused_columns=False,
        )
        trainer = RecordingTrainer(model=model, args=args, train_dataset=_OrderedExamples(ordered),
                                   data_collator=lambda rows: collate(rows, pad_token_id),
                                   callbacks=[clock])
        trainer.train()
    report = TrainReport(warmup_steps=config.warmup_steps, losses=losses)
    report.step_seconds = [b - a for a, b in zip(clock.marks, clock.marks[1:])]
    return report


def run_trainer_comparison(settings: LoraSettings, rank: int, device: str = "cpu",
                           repeats: int = 2) -> Result:
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    lora = lora_config(settings, rank)
    tokenizer = load_tokenizer(settings.model)
    train_set, _, _ = prepare_data(settings, tokenizer)
    config = train_config(settings, f"trainer comparison r={rank} on {settings.model} ({device})")
    order = batch_order(len(train_set), config.steps, config.batch_size, config.seed)
    ordered = [train_set[i] for batch in order for i in batch]
    step_tokens = [sum(len(train_set[i].input_ids) for i in batch) for batch in order]

    best: dict[str, TrainReport] = {}
    for _ in range(repeats):
        for variant in VARIANTS:
            model = build_lora_model(settings, lora, device)
            if variant == "trainer":
                report = _train_with_trainer(model, ordered, config, tokenizer.pad_token_id,
                                             device)
                report.step_tokens = step_tokens
            else:
                with contextlib.ExitStack() as stack:
                    if variant == "loop+trackers":
                        stack.enter_context(RssSampler())
                        if device.startswith("cuda"):
                            stack.enter_context(CudaMemoryTracker(device))
                    report = train(model, train_set, config,
                                   pad_token_id=tokenizer.pad_token_id, device=device)
            del model
            release_memory()
            if variant not in best or report.runtime_s < best[variant].runtime_s:
                best[variant] = report

    loop, tracked, trainer = (best[v] for v in VARIANTS)
    on_cpu = not device.startswith("cuda")
    params = {**benchmark_params(settings, rank), "repeats": repeats}
    result = Result(suite="lora", params=params)
    time_tol = 0.5 if on_cpu else 0.2
    result.add("loop_tokens_per_s", cost(loop.tokens_per_s, "tokens/s", "higher",
                                         rel_tol=time_tol))
    result.add("trainer_tokens_per_s", cost(trainer.tokens_per_s, "tokens/s", "higher",
                                            rel_tol=time_tol))
    result.add("loop_vs_trainer_speed", cost(loop.tokens_per_s / trainer.tokens_per_s, "x",
                                             "higher", rel_tol=0.25 if on_cpu else 0.1))
    overhead_pct = 100.0 * (tracked.runtime_s / loop.runtime_s - 1.0)
    result.add("tracker_overhead_pct", cost(overhead_pct, "%", abs_tol=5.0 if on_cpu else 2.0))
    # Same seed, batches and optimizer: the two training procedures compute the same thing.
    loss_gap = max(abs(a - b) for a, b in zip(loop.losses, trainer.losses, strict=True))
    result.add("loss_curve_max_abs_diff", quality(loss_gap, "nats", abs_tol=0.01))
    result.artifacts.update({
        f"{variant}_{key}": value for variant, report in best.items()
        for key, value in (("loss_curve", report.losses), ("step_seconds", report.step_seconds),
                           ("latency", report.latency.to_dict()))
    })
    result.artifacts["variants"] = list(VARIANTS)
    result.add("loop_median_step_s", info(loop.latency.median, "s"))
    result.add("trainer_median_step_s", info(trainer.latency.median, "s"))
    return result
