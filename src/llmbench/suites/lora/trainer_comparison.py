"""Is the measured loop as fast as transformers' Trainer, and what do the trackers cost?

Three variants train the same LoRA model (same seed, same batches in the same order, same
AdamW, same gradient clipping) for the same steps:

* ``loop``          -- ``llmbench.measure.training.train`` without trackers,
* ``loop+trackers`` -- the same, inside the RSS sampler (and CUDA memory tracker on CUDA),
* ``trainer``       -- ``transformers.Trainer``; a step's time is the interval between the
  ``on_step_end`` callbacks, so it includes the Trainer's own data loading and bookkeeping.

The variants run interleaved ``repeats`` times. A variant's speed is the median tokens/s over
all its measured steps (warm-up steps excluded, as in the LoRA suite), which shrugs off steps
disturbed by other processes. ``tracker_overhead_pct`` compares loop and loop+trackers
(recorded, not compared: too noisy on a shared CPU); ``sampler_cpu_pct`` is the RSS sampler
thread's own CPU time as a share of the training time (compared).
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import tempfile
import time

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from llmbench.measure.trackers import CudaMemoryTracker, RssSampler, synchronize
from llmbench.measure.training import TrainConfig, TrainReport, batch_order, release_memory, train
from llmbench.profiles import LoraSettings
from llmbench.regression.results import Result, cost, info, quality, seeded_on
from llmbench.sources.data import TokenizedExample, collate
from llmbench.sources.models import load_tokenizer
from llmbench.suites.lora.runner import (
    benchmark_params,
    build_lora_model,
    lora_config,
    prepare_data,
    train_config,
)

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


def _step_throughputs(report: TrainReport) -> list[float]:
    """Tokens/s of each measured step."""
    return [tokens / seconds for tokens, seconds in
            zip(report.step_tokens[report.warmup_steps:], report.measured_seconds, strict=True)]


def run_trainer_comparison(settings: LoraSettings, rank: int, device: str = "cpu",
                           repeats: int | None = None) -> Result:
    repeats = settings.comparison_repeats if repeats is None else repeats
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if settings.comparison_steps is not None:
        settings = dataclasses.replace(settings, steps=settings.comparison_steps)
    lora = lora_config(settings, rank)
    tokenizer = load_tokenizer(settings.model)
    train_set, _, _ = prepare_data(settings, tokenizer)
    config = train_config(settings, f"trainer comparison r={rank} on {settings.model} ({device})")
    order = batch_order(len(train_set), config.steps, config.batch_size, config.seed)
    ordered = [train_set[i] for batch in order for i in batch]
    step_tokens = [sum(len(train_set[i].input_ids) for i in batch) for batch in order]

    runs: dict[str, list[TrainReport]] = {v: [] for v in VARIANTS}
    sampler_cpu_s = 0.0
    for _ in range(repeats):  # interleaved, so a busy spell on the machine hits every variant
        for variant in VARIANTS:
            model = build_lora_model(settings, lora, device)
            if variant == "trainer":
                report = _train_with_trainer(model, ordered, config, tokenizer.pad_token_id,
                                             device)
                report.step_tokens = step_tokens
            else:
                with contextlib.ExitStack() as stack:
                    rss = (stack.enter_context(RssSampler())
                           if variant == "loop+trackers" else None)
                    if rss and device.startswith("cuda"):
                        stack.enter_context(CudaMemoryTracker(device))
                    report = train(model, train_set, config,
                                   pad_token_id=tokenizer.pad_token_id, device=device)
                if rss:
                    sampler_cpu_s += rss.report.sampler_cpu_s
            runs[variant].append(report)
            del model
            release_memory()

    # Per-step throughput pooled over the repeats; the median shrugs off disturbed steps.
    speed = {v: statistics.median(x for r in runs[v] for x in _step_throughputs(r))
             for v in VARIANTS}
    loop, trainer = runs["loop"][0], runs["trainer"][0]
    result = Result(suite="lora", params={**benchmark_params(settings, rank), "repeats": repeats})
    result.add("loop_tokens_per_s", cost(speed["loop"], "tokens/s", "higher", kind="throughput",
                                         device=device))
    result.add("trainer_tokens_per_s", cost(speed["trainer"], "tokens/s", "higher",
                                            kind="throughput", device=device))
    # Both sides measured in the same session, interleaved: most of the machine's drift cancels
    # (what remains between sessions is measured in regression.tolerances, speed_ratio).
    result.add("loop_vs_trainer_speed", cost(speed["loop"] / speed["trainer"], "x", "higher",
                                             kind="speed_ratio", device=device))
    # With and without trackers: on a shared CPU this swings by +-5 % from run to run, so it
    # is recorded; the sampler thread's own CPU time is the stable figure that is compared.
    overhead_pct = 100.0 * (speed["loop"] / speed["loop+trackers"] - 1.0)
    result.add("tracker_overhead_pct", info(overhead_pct, "%"))
    tracked_seconds = sum(sum(r.step_seconds) for r in runs["loop+trackers"])
    result.add("sampler_cpu_pct", cost(100.0 * sampler_cpu_s / tracked_seconds, "%",
                                       kind="percent", device=device))
    # Same seed, batches and optimizer: the two training procedures compute the same thing.
    loss_gap = max(abs(a - b) for a, b in zip(loop.losses, trainer.losses, strict=True))
    result.add("loss_curve_max_abs_diff", quality(loss_gap, "nats", kind="loss_gap",
                                                  device=device, determinism=seeded_on(device)))
    result.add("loop_median_step_s", info(statistics.median(
        x for r in runs["loop"] for x in r.measured_seconds), "s"))
    result.add("trainer_median_step_s", info(statistics.median(
        x for r in runs["trainer"] for x in r.measured_seconds), "s"))
    for variant, reports in runs.items():
        result.artifacts[f"{variant}_loss_curve"] = reports[0].losses
        result.artifacts[f"{variant}_step_seconds"] = [r.step_seconds for r in reports]
    result.artifacts["variants"] = list(VARIANTS)
    return result
