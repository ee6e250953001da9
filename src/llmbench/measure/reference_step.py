"""A training step the code under test never touches, timed between the real ones.

A shared VM's speed is not steady: on this project's 2-core VM a fixed workload ran at either
~1.6 or ~2.5 ms, flipping within seconds, so a training step's time moved by 25-40 % between
(and within) sessions with unchanged code, and a 25 % slowdown of the code could not be told
from the machine. The machine's speed cancels in a ratio of two timings taken at the same
moment: each measured step is divided by the mean of the reference steps run just before and
just after it (``TrainReport.relative_step_cost``).

The reference is a two-layer MLP trained with plain torch (forward, backward, AdamW step), a few
milliseconds: a change in llmbench's loop, in transformers or in peft moves the real step and
not the reference; a machine at another speed moves both. Measured on the 2-core VM (smoke LoRA
r8, 1,200 steps, with another process competing for the cores half of the time): chunk medians
of the raw step time ranged 23.7-35.6 ms, of the ratio 4.9-5.7.
"""

from __future__ import annotations

import time

import torch

from llmbench.measure.trackers import synchronize

# Ratios to another workload are not comparable: a change here needs the LoRA baselines
# re-recorded (--update-baselines --baseline-reason).
_WIDTH, _HIDDEN, _ROWS = 128, 512, 512


class ReferenceStep:
    """``seconds()``: the wall time of one training step of a fixed MLP on ``device``."""

    def __init__(self, device: str = "cpu", warmup: int = 3) -> None:
        self.device = device
        with torch.random.fork_rng(devices=[]):  # leaves the benchmark's seeded stream alone
            torch.manual_seed(0)
            self.model = torch.nn.Sequential(
                torch.nn.Linear(_WIDTH, _HIDDEN), torch.nn.GELU(),
                torch.nn.Linear(_HIDDEN, _WIDTH)).to(device)
            self.inputs = torch.randn(_ROWS, _WIDTH).to(device)
        # lr 0: the same arithmetic every call, on weights that never drift toward denormals
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.0, fused=True)
        for _ in range(warmup):
            self.seconds()

    def seconds(self) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        loss = self.model(self.inputs).square().mean()
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        synchronize(self.device)
        return time.perf_counter() - start
