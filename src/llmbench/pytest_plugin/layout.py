"""How a CPU run of the benchmarks spreads over the machine's cores: pytest-xdist workers with
the profile's torch threads each.

The work is compute-bound and one torch thread a benchmark is the steadiest timing on a shared
VM, so on a 2-core machine one process left a core idle for the whole run. A run whose paths
all lie in the project's ``benchmarks/`` directory (``pytest benchmarks``, ``pytest
benchmarks/test_rag.py -k bm25``) therefore starts ``cpu_workers`` xdist workers itself: the
profile's setting, "auto" = the machine's cores // its ``cpu_threads``; ``--bench-workers``
overrides it and applies to any path. The layout (workers x threads) is recorded with every
result (``environment.fingerprint``) and a CPU cost baseline compares only with runs in its
layout.

Left as the user gave it: an explicit ``-n``/``--dist``/``--tx``, a run that selects GPU
benchmarks or sees CUDA (one process per GPU: ``gpu_workers``), ``--collect-only``, ``--pdb``,
``--require-network`` (like ``-m gpu``, its usage error is raised at collection, which an xdist
worker can only report as an INTERNALERROR), an ``llmbench ab`` worker, and an xdist worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from llmbench.pytest_plugin.options import AUTO
from llmbench.pytest_plugin.profiles import requested_threads, resolve_profile
from llmbench.pytest_plugin.scheduling import SPREAD_KEY

BENCHMARK_DIR = "benchmarks"
# Every thread pool a worker's libraries start gets the worker's thread count: OpenBLAS (numpy),
# OpenMP (torch, bitsandbytes) and the tokenizers' rayon pool default to one thread per core
# and would run on the other worker's core.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "RAYON_NUM_THREADS")


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_count(setting: int | str, threads: int, cores: int) -> int:
    """Workers for a ``cpu_workers`` setting: "auto" fills the cores with ``threads`` each."""
    return max(1, cores // threads) if setting == AUTO else int(setting)


def only_benchmarks(args: list[str], rootpath: Path, invocation_dir: Path) -> bool:
    """Do all of a run's paths lie in ``<rootdir>/benchmarks``? (``-k``/``-m`` filter them.)"""
    base = (rootpath / BENCHMARK_DIR).resolve()
    paths = [(invocation_dir / arg.split("::", 1)[0]).resolve() for arg in args]
    return bool(paths) and all(path == base or base in path.parents for path in paths)


def _user_layout(config: pytest.Config) -> str | None:
    """Why the run keeps the process layout it was given, or None."""
    option = config.option
    if hasattr(config, "workerinput") or os.environ.get("PYTEST_XDIST_WORKER"):
        return "an xdist worker"
    if getattr(option, "numprocesses", None) is not None or getattr(option, "tx", None) or \
            getattr(option, "dist", "no") != "no":
        return "-n/--dist given"
    if option.collectonly or option.usepdb:
        return "--collect-only or --pdb"
    if config.getoption("ab_worker", None):
        return "an llmbench ab worker"
    if config.getoption("require_network", None):
        # its usage error is raised at collection, which a worker reports as an INTERNALERROR
        return "--require-network"
    return None


def threads_per_worker(config: pytest.Config) -> int:
    """The torch threads each process will use (as ``profiles.apply_cpu_threads`` sets them)."""
    threads = requested_threads(config)
    if threads is not None:
        return threads
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except ValueError:
        return resolve_profile(config, "cpu").cpu_threads


def spread(config: pytest.Config, setting: int | str,
           gpu_reason: Callable[[], str | None]) -> int:
    """Start the xdist workers this run's layout asks for (from ``pytest_cmdline_main``, before
    xdist reads its options); returns the worker count (1: one process, nothing changed).
    ``gpu_reason``: why this run belongs to the GPU (None on a CPU-only run; asked last: it
    imports torch)."""
    explicit = config.getoption("bench_workers")
    if _user_layout(config):
        return 1
    if explicit is None and not only_benchmarks(config.args, config.rootpath,
                                                config.invocation_params.dir):
        return 1
    if gpu_reason():
        return 1
    threads = threads_per_worker(config)
    count = worker_count(explicit if explicit is not None else setting, threads,
                         machine_cores())
    if count < 2:
        return 1
    if not config.pluginmanager.hasplugin("xdist"):
        raise pytest.UsageError(
            f"the benchmarks' layout is {count} workers x {threads} thread(s) but pytest-xdist "
            "is not installed or was disabled (-p no:xdist): install pytest-xdist, or run "
            "with --bench-workers 1 (a layout of its own: its timings compare with baselines "
            "recorded in one process)")
    option = config.option
    option.numprocesses = count
    option.dist = "load"  # our scheduler replaces xdist's (``scheduling``)
    option.tx = ["popen"] * count
    config.stash[SPREAD_KEY] = count
    for name in THREAD_VARIABLES:  # the workers inherit them and start their pools with them
        os.environ.setdefault(name, str(threads))
    return count
