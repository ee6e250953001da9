"""Inject a known regression to check that the gate catches it (a pytest plugin, opt-in).

    pytest benchmarks -p llmbench.tools.inject --inject-slowdown 0.25
    pytest benchmarks -p llmbench.tools.inject --inject-slowdown 1 --inject-how wait \
        --inject-into backward
    pytest benchmarks -p llmbench.tools.inject --inject-loss 0.01

``--inject-slowdown F`` makes every training step (``measure.training.train_step``) and every
``generate`` call of a transformers model take ``F`` times longer: after the real work, it
spins the CPU for that long (``--inject-how burn``: slower code) or sleeps (``wait``: a step
that blocks on I/O, a lock or a device). ``--inject-into backward`` slows torch's autograd
backward pass instead (``torch.autograd.backward``, whatever calls it: a regression inside
torch). ``--inject-loss F`` reports every training loss ``F`` worse. Nothing in the product
code knows about it: the plugin wraps the functions for the run and restores them after. Used
for the detection tables in docs/regression-study.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmbench-inject", "llmbench fault injection (checks the gate)")
    group.addoption("--inject-slowdown", type=float, default=0.0, metavar="F",
                    help="make training steps and generation F times slower (0.25 = +25%%)")
    group.addoption("--inject-how", choices=("burn", "wait"), default="burn",
                    help="burn: the slowdown spins the CPU (slower code); wait: it sleeps "
                         "(code that blocks)")
    group.addoption("--inject-into", choices=("step", "backward"), default="step",
                    help="step: training steps and generate; backward: torch's autograd "
                         "backward pass")
    group.addoption("--inject-loss", type=float, default=0.0, metavar="F",
                    help="report training losses F worse (0.01 = +1%%)")


def spin(seconds: float) -> None:
    """Busy-wait: CPU time, not sleep."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def slowed(fn: Callable[..., Any], fraction: float, how: str = "burn") -> Callable[..., Any]:
    delay = spin if how == "burn" else time.sleep

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        delay(fraction * (time.perf_counter() - start))
        return out

    return wrapper


def worse_loss(fn: Callable[..., float], fraction: float) -> Callable[..., float]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> float:
        return fn(*args, **kwargs) * (1 + fraction)

    return wrapper


@pytest.fixture(autouse=True, scope="session")
def _injected(request: pytest.FixtureRequest) -> Any:
    import torch
    from transformers.generation.utils import GenerationMixin

    from llmbench.measure import training

    slowdown = request.config.getoption("inject_slowdown")
    how, into = request.config.getoption("inject_how"), request.config.getoption("inject_into")
    loss = request.config.getoption("inject_loss")
    if slowdown < 0 or loss < 0:
        raise pytest.UsageError("--inject-slowdown and --inject-loss must be >= 0")
    original_step, original_generate = training.train_step, GenerationMixin.generate
    original_backward = torch.autograd.backward
    step = original_step
    if slowdown and into == "step":
        step = slowed(step, slowdown, how)
        GenerationMixin.generate = slowed(original_generate, slowdown, how)
    if slowdown and into == "backward":
        torch.autograd.backward = slowed(original_backward, slowdown, how)
    if loss:
        step = worse_loss(step, loss)
    training.train_step = step
    yield
    training.train_step, GenerationMixin.generate = original_step, original_generate
    torch.autograd.backward = original_backward
