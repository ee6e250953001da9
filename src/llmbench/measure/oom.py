"""The CUDA out-of-memory guard every suite runs its measurement under.

    return guard_oom(lambda: _run(...), name="LoRA r=256 on opt-350m-random (cuda, ...)")

CUDA out of memory becomes ``CudaOutOfMemoryError`` naming the configuration, raised after the
model and optimizer are released (outside the ``except`` block, whose traceback would keep
their frames alive), so the next benchmark in the process can still run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from llmbench.measure.training import CudaOutOfMemoryError, release_memory

T = TypeVar("T")


def guard_oom(run: Callable[[], T], name: str) -> T:
    message = None
    try:
        return run()
    except torch.cuda.OutOfMemoryError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "out of memory"
    release_memory()
    raise CudaOutOfMemoryError(f"CUDA out of memory in {name}: {message}")
