"""Where a result was measured: device class, hardware key, package versions, git provenance."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
from datetime import datetime, timezone
from typing import Any

TRACKED_PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate",
                    "sentence-transformers", "bm25s", "langchain-classic", "nltk", "rouge-score",
                    "openai", "openevals", "langsmith", "llmbench")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _first_cpu() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return _first_cpu().get("model name") or platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def cpu_signature() -> str:
    """The CPU's instruction set as the kernels see it: torch's vector ISA and the CPU's family,
    model and stepping. Two VMs both named "AMD EPYC" gave seeded LoRA losses 0.7 % apart: a
    virtualised CPU can hide its model name, not which kernels (and float sums) run on it."""
    parts = []
    try:
        import torch

        parts.append(torch.backends.cpu.get_cpu_capability())
    except (ImportError, AttributeError):
        pass
    cpu = _first_cpu()
    ids = [f"{key} {cpu[key]}" for key in ("cpu family", "model", "stepping") if key in cpu]
    if ids:
        parts.append(" ".join(ids))
    return "; ".join(parts) or platform.machine()


@functools.lru_cache(maxsize=1)
def nvidia_driver_version() -> str | None:
    """The NVIDIA driver's version (``550.54.15``): from NVML when nvidia-ml-py is installed,
    else from ``nvidia-smi``; None without either. One driver serves every GPU of a machine."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            version = pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # not installed, or no driver: NVML raises its own error types
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.split() if out.returncode == 0 else []
    return lines[0] if lines else None


def cuda_info(device_index: int = 0) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {}
    props = torch.cuda.get_device_properties(device_index)
    return {
        "gpu_name": props.name,
        "gpu_memory_bytes": int(props.total_memory),
        "gpu_count": torch.cuda.device_count(),
        "compute_capability": f"{props.major}.{props.minor}",
        "driver_version": nvidia_driver_version(),
        "cuda_version": torch.version.cuda,
    }


def cuda_hardware_key(info: dict[str, Any]) -> str:
    """``cuda/<GPU name> cc<major.minor> driver <version> cuda <runtime>``: what decides the
    speed of the kernels a benchmark runs. Not the GPU count: a benchmark runs on one GPU (the
    plugin pins one per process), and an xdist worker sees one where a plain run sees all."""
    if not info:
        return "cuda/unknown"
    return (f"cuda/{info.get('gpu_name', 'unknown')} cc{info.get('compute_capability', '?')} "
            f"driver {info.get('driver_version') or 'unknown'} "
            f"cuda {info.get('cuda_version') or 'unknown'}")


_HARDWARE_KEY_OVERRIDE: list[str] = []  # set by --hardware-key for the run
HARDWARE_KEY_ENV = "LLMBENCH_HARDWARE_KEY"


def set_hardware_key(name: str | None) -> None:
    """Name this runner's hardware (``--hardware-key``); None returns to detection."""
    _HARDWARE_KEY_OVERRIDE[:] = [name.strip()] if name and name.strip() else []


def hardware_key(device: str) -> str:
    """Cost metrics compare only between results that share this key: the CPU's model and core
    count (``cpu/AMD EPYC 7B13 x2``), the GPU's name, compute capability, driver and CUDA runtime
    (``cuda/NVIDIA H100 80GB HBM3 cc9.0 driver 550.54.15 cuda 12.4``), or the name a team gave
    the runner (``--hardware-key`` / ``$LLMBENCH_HARDWARE_KEY``)."""
    named = (_HARDWARE_KEY_OVERRIDE[0] if _HARDWARE_KEY_OVERRIDE
             else os.environ.get(HARDWARE_KEY_ENV, "").strip())
    if named:
        return named
    if str(device).startswith("cuda"):
        return cuda_hardware_key(cuda_info())
    return f"cpu/{cpu_model()} x{os.cpu_count()}"


def torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


def workers() -> int:
    """How many pytest processes share the machine's cores in this run (pytest-xdist workers;
    1 without xdist)."""
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1


def layout(env: dict[str, Any] | None) -> tuple[int, int | None]:
    """(workers, torch threads per worker) of an environment; runs recorded before the worker
    count was kept ran one process."""
    env = env or {}
    return int(env.get("workers") or 1), env.get("torch_threads")


def other_layout(recorded: dict[str, Any] | None, now: dict[str, Any] | None, *,
                 sides: tuple[str, str] = ("the cost baseline was recorded", "this run has")
                 ) -> str:
    """Why CPU timings measured where ``recorded`` describes cannot be compared with timings
    measured where ``now`` does ("" when they can): one torch thread and two are different
    workloads on a CPU, and so are one process and two sharing its cores; the speed probe (one
    thread) does not see the difference."""
    (then_workers, then_threads), (now_workers, now_threads) = layout(recorded), layout(now)
    if ((now or {}).get("device_class") != "cpu" or then_threads is None or now_threads is None
            or (then_workers, then_threads) == (now_workers, now_threads)):
        return ""
    if then_workers == now_workers:
        return (f"{sides[0]} with {then_threads} torch thread(s), {sides[1]} {now_threads}: "
                f"run with --bench-threads {then_threads}, or record a baseline with "
                f"{now_threads}")
    return (f"{sides[0]} with {then_workers} worker(s) x {then_threads} torch thread(s), "
            f"{sides[1]} {now_workers} x {now_threads}: run in the baseline's layout "
            f"(--bench-workers {then_workers} --bench-threads {then_threads}), or record a "
            "baseline in this one")


# What must match for SEEDED metrics to be compared near-exactly: floating-point results depend
# on the hardware (its instruction set picks the kernels), the library versions and the number
# of threads that split each reduction.
PLATFORM_FIELDS = ("hardware_key", "cpu_signature", "python", "packages", "torch_threads")


def same_platform(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if not a or not b:
        return False
    return all(field in a and a.get(field) == b.get(field) for field in PLATFORM_FIELDS)


def fingerprint(device: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "device_class": device,
        "hardware_key": hardware_key(device),
        "cpu": cpu_model(),
        "cpu_signature": cpu_signature(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch_threads": torch_threads(),
        "workers": workers(),
        "os": f"{platform.system()} {platform.release()}",
        "packages": {name: package_version(name) for name in TRACKED_PACKAGES},
    }
    if str(device).startswith("cuda"):
        env.update(cuda_info())
    return env


def _git(*args: str, cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=4)
def provenance(cwd: str | None = None) -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return {
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }


def author() -> str | None:
    """Who is accepting baselines: $LLMBENCH_AUTHOR, else git's user.name, else the login."""
    import getpass

    name = os.environ.get("LLMBENCH_AUTHOR") or _git("config", "user.name")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def speed_ratio(current_ms: float | None, reference_ms: float | None) -> float | None:
    """How many times slower the machine ran at probe ``current_ms`` than at ``reference_ms``
    (below 1: faster); None when either probe is missing."""
    if not current_ms or not reference_ms or current_ms <= 0 or reference_ms <= 0:
        return None
    return current_ms / reference_ms
