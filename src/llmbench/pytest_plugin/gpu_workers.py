"""One GPU per pytest process: ``pytest benchmarks -m gpu -n 4`` on a 4-GPU runner gives each
xdist worker its own, and a run without xdist uses one.

Each xdist worker (``PYTEST_XDIST_WORKER=gw0, gw1, ...``) gets ``CUDA_VISIBLE_DEVICES`` set to
one entry of the GPUs visible to the whole run: the entries of ``CUDA_VISIBLE_DEVICES`` when it
is set (indices, UUIDs or MIG ids), else every GPU ``nvidia-smi`` lists. Worker ``gwN`` takes
entry ``N mod len(gpus)``, so with more workers than GPUs some share one (and their timings
suffer: use ``-n <number of GPUs>`` for cost baselines). Inside the worker the GPU is then
``cuda:0``, so its name (the hardware key of cost baselines) is that of the worker's GPU.

A run without xdist that sees several GPUs is pinned to the first: a benchmark measures one GPU,
and transformers' Trainer would otherwise wrap the model in ``DataParallel`` over all of them
(batches of ``batch_size x n_gpu`` where the benchmarks count ``batch_size``). The xdist
controller is left alone: its workers inherit its environment and pick their own GPU.

``LLMBENCH_GPU_PER_WORKER=0`` turns both off (e.g. for benchmarks that want all GPUs). It must
run before CUDA is initialised: the plugin calls ``assign_gpu()`` first thing in
``pytest_configure``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable, MutableMapping

SWITCH = "LLMBENCH_GPU_PER_WORKER"


def worker_index(worker_id: str | None) -> int | None:
    """``gw3`` -> 3; None outside an xdist worker."""
    if not worker_id:
        return None
    match = re.fullmatch(r"gw(\d+)", worker_id)
    if match is None:
        raise ValueError(f"PYTEST_XDIST_WORKER={worker_id!r} is not an xdist worker id (gwN)")
    return int(match.group(1))


def nvidia_smi_gpus() -> list[str]:
    """Indices of the GPUs the driver lists; empty without nvidia-smi or a driver."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def visible_gpus(environ: MutableMapping[str, str],
                 list_gpus: Callable[[], list[str]] = nvidia_smi_gpus) -> list[str]:
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [g.strip() for g in environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    return list_gpus()


def gpu_for_worker(index: int, gpus: list[str]) -> str:
    return gpus[index % len(gpus)]


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def assign_gpu(environ: MutableMapping[str, str] | None = None,
               list_gpus: Callable[[], list[str]] = nvidia_smi_gpus, *,
               distributing: bool = False) -> str | None:
    """Pin this process to one GPU via CUDA_VISIBLE_DEVICES: an xdist worker to its own, a run
    without xdist to the first it sees. Returns the GPU, or None when nothing was changed
    (switched off, the xdist controller (``distributing``), one GPU or none)."""
    environ = os.environ if environ is None else environ
    switch = environ.get(SWITCH, "1")
    if switch not in ("0", "1"):
        raise ValueError(f"{SWITCH}={switch!r}: use 1 (one GPU per pytest process, the "
                         "default) or 0 (every process sees every GPU)")
    index = worker_index(environ.get("PYTEST_XDIST_WORKER"))
    if switch == "0" or (index is None and distributing):
        return None
    gpus = visible_gpus(environ, list_gpus)
    if not gpus or (index is None and len(gpus) == 1):
        return None
    if index is None:
        index = 0  # one process, several GPUs: the first
    if _cuda_initialized():
        warnings.warn(f"{SWITCH}: CUDA was initialised before this process's GPU was "
                      "chosen; CUDA_VISIBLE_DEVICES is left alone", RuntimeWarning, stacklevel=2)
        return None
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > len(gpus) and index == 0:
        warnings.warn(f"{workers} xdist workers share {len(gpus)} GPU(s); timings and memory "
                      f"of shared GPUs are not comparable: run with -n {len(gpus)}",
                      RuntimeWarning, stacklevel=2)
    gpu = gpu_for_worker(index, gpus)
    environ["CUDA_VISIBLE_DEVICES"] = gpu
    return gpu
