"""Inject a known regression to check that the gate catches it (a pytest plugin, opt-in).

    pytest benchmarks -p llmbench.tools.inject --inject-slowdown 0.25
    pytest benchmarks -p llmbench.tools.inject --inject-loss 0.01

``--inject-slowdown F`` makes every training step (``measure.training.train_step``) and every
``generate`` call of a transformers model take ``F`` times longer, by spinning the CPU for that
long after the real work: real CPU time, as slower code would spend (a sleep would look like a
busy machine). ``--inject-loss F`` reports every training loss ``F`` worse. Nothing in the
product code knows about it: the plugin wraps the functions for the run and restores them after.
Used for the detection table in the README ("Regression rules").
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
    group.addoption("--inject-loss", type=float, default=0.0, metavar="F",
                    help="report training losses F worse (0.01 = +1%%)")


def spin(seconds: float) -> None:
    """Busy-wait: CPU time, not sleep."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def slowed(fn: Callable[..., Any], fraction: float) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        spin(fraction * (time.perf_counter() - start))
        return out

    return wrapper


def worse_loss(fn: Callable[..., float], fraction: float) -> Callable[..., float]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> float:
        return fn(*args, **kwargs) * (1 + fraction)

    return wrapper


@pytest.fixture(autouse=True, scope="session")
def _injected(request: pytest.FixtureRequest) -> Any:
    from transformers.generation.utils import GenerationMixin

    from llmbench.measure import training

    slowdown = request.config.getoption("inject_slowdown")
    loss = request.config.getoption("inject_loss")
    if slowdown < 0 or loss < 0:
        raise pytest.UsageError("--inject-slowdown and --inject-loss must be >= 0")
    original_step, original_generate = training.train_step, GenerationMixin.generate
    step = original_step
    if slowdown:
        step = slowed(step, slowdown)
        GenerationMixin.generate = slowed(original_generate, slowdown)
    if loss:
        step = worse_loss(step, loss)
    training.train_step = step
    yield
    training.train_step, GenerationMixin.generate = original_step, original_generate
