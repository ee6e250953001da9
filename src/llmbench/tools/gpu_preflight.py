"""Before a GPU session spends device time: is everything there? ``scripts/gpu-baselines.sh``
runs this first (about ten seconds) and stops when a check fails, naming what is missing.

    python -m llmbench.tools.gpu_preflight -p no:llmbench -p llmbench.pytest_plugin

The arguments are the pytest arguments that load the plugin in the run that follows. Checks:

* the llmbench pytest plugin registers exactly once with them (the installed entry point and a
  plain ``-p llmbench.pytest_plugin`` together stop pytest with "Plugin already registered
  under a different name");
* torch sees a CUDA device;
* bitsandbytes imports and its CUDA kernels run (a 4-bit and an 8-bit quantization of a small
  matrix on the GPU: a wheel without its CUDA library fails here, not minutes into the run).

Exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

# Run in a fresh interpreter: pytest over an empty folder with the given arguments; once it is
# configured (every plugin registered), it says under which names the llmbench plugin is.
_REGISTRATIONS = """
import pathlib, sys, tempfile
import pytest
import llmbench.pytest_plugin as plugin

class Probe:
    def pytest_configure(self, config):
        names = [n for n, p in config.pluginmanager.list_name_plugin() if p is plugin]
        print("llmbench plugin registered as:", ",".join(names) or "-", flush=True)

with tempfile.TemporaryDirectory() as empty:
    (pathlib.Path(empty) / "pytest.ini").write_text("[pytest]\\n")
    pytest.main([*sys.argv[1:], "--collect-only", "-q", "-p", "no:cacheprovider",
                 "--rootdir", empty, empty], plugins=[Probe()])
"""


@dataclass(frozen=True)
class Check:
    name: str
    problem: str | None = None  # None: passed
    detail: str = ""  # what was found, when it passed

    def line(self) -> str:
        if self.problem is None:
            return f"ok       {self.name}: {self.detail}"
        return f"MISSING  {self.name}: {self.problem}"


def check_plugin(plugin_args: Sequence[str]) -> Check:
    name = "llmbench pytest plugin, registered once"
    try:
        out = subprocess.run([sys.executable, "-c", _REGISTRATIONS, *plugin_args],
                             capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return Check(name, "pytest did not start within 120 s")
    marker = "llmbench plugin registered as: "
    found = [line.removeprefix(marker) for line in out.stdout.splitlines()
             if line.startswith(marker)]
    args = " ".join(plugin_args) or "(no arguments)"
    if not found:  # pytest stopped before configuring: say its own words
        said = [line for line in (out.stderr + out.stdout).splitlines() if line.strip()]
        why = next((line for line in said if "already registered" in line),
                   said[-1] if said else f"exit status {out.returncode}")
        return Check(name, f"pytest {args} fails to start: {why}")
    names = [n for n in found[0].split(",") if n and n != "-"]
    if len(names) == 1:
        return Check(name, detail=f"as {names[0]!r} with {args}")
    if names:
        return Check(name, f"pytest {args} registers it {len(names)} times ({', '.join(names)})")
    return Check(name, f"pytest {args} does not load it (install llmbench, or pass "
                       "-p llmbench.pytest_plugin with src/ on PYTHONPATH)")


def check_cuda() -> Check:
    from llmbench.pytest_plugin import cuda_problem

    problem = cuda_problem()
    if problem:
        return Check("CUDA", problem)
    import torch

    return Check("CUDA", detail=f"{torch.cuda.get_device_name(0)}, torch {torch.__version__} "
                                f"(CUDA {torch.version.cuda}), "
                                f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}")


def check_bitsandbytes(cuda: Check) -> Check:
    name = "bitsandbytes CUDA kernels"
    from llmbench.suites.quant.precisions import probe_bitsandbytes

    status = probe_bitsandbytes()
    if status.version is None:
        return Check(name, "bitsandbytes is not installed (put its wheel in .whl/: "
                           "../shared/tools/gpu-wheels)")
    if status.import_error:
        return Check(name, f"bitsandbytes {status.version} fails to import: "
                           f"{status.import_error}")
    if cuda.problem:
        return Check(name, f"bitsandbytes {status.version} imports, its CUDA kernels were not "
                           "tried: no CUDA")
    try:
        import bitsandbytes.functional as F
        import torch

        weights = torch.randn(64, 64, device="cuda", dtype=torch.float16)
        packed, state = F.quantize_4bit(weights, quant_type="nf4")
        F.dequantize_4bit(packed, state)
        F.int8_vectorwise_quant(weights)
        torch.cuda.synchronize()
    except Exception as exc:  # a missing native library raises all kinds of errors
        return Check(name, f"bitsandbytes {status.version} cannot run its CUDA kernels: "
                           f"{type(exc).__name__}: {exc}")
    return Check(name, detail=f"bitsandbytes {status.version}: nf4 and int8 quantized on the GPU")


def preflight(plugin_args: Sequence[str]) -> list[Check]:
    cuda = check_cuda()
    return [check_plugin(plugin_args), cuda, check_bitsandbytes(cuda)]


def main(argv: Sequence[str] | None = None) -> int:
    checks = preflight(list(sys.argv[1:] if argv is None else argv))
    print("llmbench GPU preflight")
    for check in checks:
        print(f"  {check.line()}")
    missing = [c.name for c in checks if c.problem]
    if missing:
        print(f"GPU preflight failed ({', '.join(missing)}): nothing was run.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
