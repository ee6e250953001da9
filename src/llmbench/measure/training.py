"""The measured training loop: plain PyTorch, read top to bottom (in the spirit of nanoGPT).

One step = fetch and collate a batch, move it to the device, forward, backward, clip, optimizer
step; with ``MixedPrecision`` (float16 training on CUDA) the forward runs under autocast and the
loss is scaled (``torch.amp.GradScaler``), unscaled again before clipping. Each step's wall time
(CUDA synchronized) and loss are recorded; the first ``warmup_steps`` are excluded from the
timing figures (allocator, kernel and cache warm-up).
With a ``ReferenceStep``, a fixed step of another model is timed between the steps, outside
their timings, so that each step's time can also be read relative to the machine's speed at
that moment (``TrainReport.relative_step_cost``).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from llmbench.measure.progress import StepProgress, get_logger
from llmbench.measure.reference_step import ReferenceStep
from llmbench.measure.trackers import LatencyReport, synchronize
from llmbench.sources.data import IGNORE_INDEX, TokenizedExample, collate


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


class CudaOutOfMemoryError(RuntimeError):
    """CUDA ran out of memory; the message names the configuration."""


@dataclass(frozen=True)
class MixedPrecision:
    """Forward under ``torch.autocast(device_type, dtype)``, backward through a loss scaler: in
    float16, gradients under ~6e-8 underflow to zero unless the loss is scaled up first."""

    device_type: str = "cuda"
    dtype: torch.dtype = torch.float16


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int
    lr: float
    seed: int = 0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    name: str = "training"  # named in error messages, e.g. "lora r=8 on smollm2-135m (cpu)"
    mixed_precision: MixedPrecision | None = None  # None: every tensor in its own dtype

    def __post_init__(self) -> None:
        for option in ("steps", "batch_size"):
            if getattr(self, option) < 1:
                raise ValueError(f"{option} must be >= 1, got {getattr(self, option)}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps), got {self.warmup_steps} "
                             f"with steps={self.steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass
class TrainReport:
    warmup_steps: int
    losses: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    step_tokens: list[int] = field(default_factory=list)  # non-padding tokens per step
    # With a reference: its time before the first step and after every step (steps + 1 values)
    reference_seconds: list[float] = field(default_factory=list)
    # With mixed precision: steps the loss scaler skipped (inf/NaN gradients; it then lowers
    # its scale), and its scale at the end.
    skipped_steps: int = 0
    loss_scale: float | None = None

    @property
    def measured_seconds(self) -> list[float]:
        return self.step_seconds[self.warmup_steps:]

    @property
    def runtime_s(self) -> float:
        """Time of the measured (post-warm-up) steps."""
        return sum(self.measured_seconds)

    @property
    def latency(self) -> LatencyReport:
        return LatencyReport.from_samples(self.measured_seconds)

    @property
    def tokens_per_s(self) -> float:
        return sum(self.step_tokens[self.warmup_steps:]) / self.runtime_s

    @property
    def relative_step_cost(self) -> float | None:
        """Median over the measured steps of the step's time divided by the mean of the
        reference steps around it; None when trained without a reference."""
        if len(self.reference_seconds) != len(self.step_seconds) + 1:
            return None
        ratios = [seconds / ((self.reference_seconds[i] + self.reference_seconds[i + 1]) / 2)
                  for i, seconds in enumerate(self.step_seconds)]
        return statistics.median(ratios[self.warmup_steps:])


def batch_order(n_examples: int, steps: int, batch_size: int, seed: int) -> list[list[int]]:
    """Example indices for every step: a fresh seeded permutation per pass over the data."""
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < steps * batch_size:
        order += torch.randperm(n_examples, generator=generator).tolist()
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(steps)]


def iterate_batches(examples: list[TokenizedExample], config: TrainConfig,
                    pad_token_id: int) -> Iterator[dict[str, torch.Tensor]]:
    for indices in batch_order(len(examples), config.steps, config.batch_size, config.seed):
        yield collate([examples[i] for i in indices], pad_token_id)


def train(model: torch.nn.Module, examples: list[TokenizedExample], config: TrainConfig, *,
          pad_token_id: int, device: str = "cpu", reference: ReferenceStep | None = None
          ) -> TrainReport:
    """Train the parameters of ``model`` that require grad; return per-step loss and time."""
    if not examples:
        raise ValueError(f"{config.name}: no training examples")
    torch.manual_seed(config.seed)  # dropout masks
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{config.name}: the model has no trainable parameters")
    # The fused kernel is what Trainer picks by default (adamw_torch_fused) and the fastest.
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0, fused=True)
    mixed = config.mixed_precision
    scaler = torch.amp.GradScaler(mixed.device_type) if mixed else None
    model.train()
    report = TrainReport(warmup_steps=config.warmup_steps)
    batches = iterate_batches(examples, config, pad_token_id)
    progress = StepProgress(config.name, total=config.steps, logger=get_logger("train"))
    if reference:
        report.reference_seconds.append(reference.seconds())

    for step in range(1, config.steps + 1):
        scale = scaler.get_scale() if scaler else None
        synchronize(device)
        start = time.perf_counter()

        batch = {k: v.to(device) for k, v in next(batches).items()}
        if scaler is None:
            loss_value = train_step(model, batch, optimizer, params, config.max_grad_norm)
        else:
            loss_value = mixed_precision_step(model, batch, optimizer, params,
                                              config.max_grad_norm, mixed, scaler)

        synchronize(device)
        report.step_seconds.append(time.perf_counter() - start)
        if scaler:
            report.loss_scale = scaler.get_scale()
            if report.loss_scale < scale:  # the scaler lowers its scale when it skips a step
                report.skipped_steps += 1
        if reference:
            report.reference_seconds.append(reference.seconds())
        report.losses.append(loss_value)
        report.step_tokens.append(int(batch["attention_mask"].sum()))
        if not math.isfinite(loss_value):
            raise TrainingDivergedError(
                f"{config.name}: loss is {loss_value} at step {step}/{config.steps} "
                f"(lr={config.lr}, batch_size={config.batch_size}, seed={config.seed})")
        progress.update(step, loss=loss_value)
    return report


def train_step(model: torch.nn.Module, batch: dict[str, torch.Tensor],
               optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
               max_grad_norm: float) -> float:
    """Forward, backward, clip, optimizer step; returns the loss (waits for CUDA work)."""
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def mixed_precision_step(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                         optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
                         max_grad_norm: float, mixed: MixedPrecision,
                         scaler: torch.amp.GradScaler) -> float:
    """``train_step`` under autocast with a scaled loss. The gradients are unscaled before
    clipping, so the norm is clipped on the true gradients; a step with inf/NaN gradients is
    skipped by the scaler, which lowers its scale."""
    with torch.autocast(mixed.device_type, dtype=mixed.dtype):
        loss = model(**batch).loss
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, examples: list[TokenizedExample], *, batch_size: int,
                  pad_token_id: int, device: str = "cpu") -> float:
    """Mean cross-entropy per supervised token over ``examples`` (dropout off)."""
    if not examples:
        raise ValueError("no evaluation examples")
    was_training = model.training
    model.eval()
    total_loss, total_tokens = 0.0, 0
    for i in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in
                 collate(examples[i:i + batch_size], pad_token_id).items()}
        # The model's loss is a mean over the batch; weight it by its supervised tokens
        # (shifted by one, as the model predicts the next token).
        tokens = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        total_loss += model(**batch).loss.item() * tokens
        total_tokens += tokens
    model.train(was_training)
    return total_loss / total_tokens


def release_memory() -> None:
    """Free what the garbage collector can, and hand cached CUDA blocks back to the driver."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
