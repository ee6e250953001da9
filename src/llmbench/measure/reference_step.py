"""A training step the code under test never touches, timed between the real ones.

A shared VM's speed is not steady: on this project's 2-core VM a fixed workload ran at either
~1.6 or ~2.5 ms, flipping within seconds, so a training step's time moved by 25-40 % between
(and within) sessions with unchanged code, and a 25 % slowdown of the code could not be told
from the machine. The machine's speed cancels in a ratio of two timings taken at the same
moment: each measured step is divided by the mean of the reference steps run just before and
just after it (``TrainReport.relative_step_cost``).

On a CPU the reference is a two-layer MLP trained with numpy (forward, backward by hand, an
Adam update), a few milliseconds on one BLAS thread. It shares the CPU, the Python interpreter
and the memory system with the real step, and no code with torch, transformers or peft: a
slowdown in any of them (an upgrade, a build flag, our own loop) moves the real step and not the
reference, where a torch reference would slow down with it and cancel it in the ratio. What the
ratio cannot see is a change that slows numpy's BLAS or the interpreter as much as the step.
On CUDA the reference is the same MLP in torch on the device (the GPU's speed is what cancels
there), so there a regression inside torch cancels: the absolute timings carry the verdict.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from llmbench.measure.trackers import synchronize

# Ratios to another workload are not comparable: a change here needs the LoRA baselines
# re-recorded (--update-baselines --baseline-reason).
_WIDTH, _HIDDEN, _ROWS = 128, 512, 256
_BETAS = (0.9, 0.999)


class ReferenceStep:
    """``seconds()``: the wall time of one training step of a fixed MLP on ``device``."""

    def __init__(self, device: str = "cpu", warmup: int = 3) -> None:
        self.device = device
        self._mlp = _TorchMlp(device) if device.startswith("cuda") else _NumpyMlp()
        for _ in range(warmup):
            self.seconds()

    def seconds(self) -> float:
        with self._mlp.threads():
            synchronize(self.device)
            start = time.perf_counter()
            self._mlp.step()
            synchronize(self.device)
            return time.perf_counter() - start


class _NumpyMlp:
    """relu MLP, mean-square loss, Adam with lr 0: the same arithmetic every call, on weights
    that never drift toward denormals."""

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController

        self._blas = ThreadpoolController()
        rng = np.random.default_rng(0)
        self.inputs = rng.standard_normal((_ROWS, _WIDTH), dtype=np.float32)
        self.weights = [rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[0])
                        for shape in ((_WIDTH, _HIDDEN), (_HIDDEN, _WIDTH))]
        self.moments = [(np.zeros_like(w), np.zeros_like(w)) for w in self.weights]

    def threads(self) -> contextlib.AbstractContextManager:
        # One BLAS thread, as the benchmarks' one torch thread: OpenBLAS would otherwise split
        # these products over every core and time the other cores' load too (5 us to set).
        return self._blas.limit(limits=1, user_api="blas")

    def step(self) -> None:
        w1, w2 = self.weights
        hidden = self.inputs @ w1
        active = np.maximum(hidden, 0)
        out = active @ w2
        grad_out = out * (2.0 / out.size)  # d mean(out²) / d out
        grad_active = grad_out @ w2.T
        grad_active *= hidden > 0
        grads = (self.inputs.T @ grad_active, active.T @ grad_out)
        for weight, grad, (m, v) in zip(self.weights, grads, self.moments):
            m *= _BETAS[0]
            m += (1 - _BETAS[0]) * grad
            v *= _BETAS[1]
            v += (1 - _BETAS[1]) * grad * grad
            weight -= 0.0 * m / (np.sqrt(v) + 1e-8)


class _TorchMlp:
    def __init__(self, device: str) -> None:
        with torch.random.fork_rng(devices=[]):  # leaves the benchmark's seeded stream alone
            torch.manual_seed(0)
            self.model = torch.nn.Sequential(
                torch.nn.Linear(_WIDTH, _HIDDEN), torch.nn.GELU(),
                torch.nn.Linear(_HIDDEN, _WIDTH)).to(device)
            self.inputs = torch.randn(_ROWS, _WIDTH).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.0, fused=True)

    def threads(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def step(self) -> None:
        loss = self.model(self.inputs).square().mean()
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
