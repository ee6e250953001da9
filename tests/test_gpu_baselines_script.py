"""scripts/gpu-baselines.sh: it records a baseline for every benchmark the nightly runs, loads
the plugin exactly once whether llmbench is installed or not, and on a machine without CUDA it
stops at once, naming what is missing."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from llmbench.tools.gpu_preflight import check_plugin

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu-baselines.sh"
NIGHTLY = REPO / ".github" / "workflows" / "nightly-gpu.yml"
# Options of the nightly's command that shape its report, repeats or workers, not its selection.
NOT_SELECTING = {"-n", "--bench-repeats", "--bench-confirm", "--bench-report", "--junit-xml",
                 "--log-cli-level"}


def script_array(name: str) -> list[str]:
    match = re.search(rf"^{name}=\((.*)\)$", SCRIPT.read_text(), re.M)
    assert match, f"{SCRIPT.name} defines no {name}=(...)"
    return shlex.split(match.group(1))


def nightly_selection() -> list[str]:
    yaml = pytest.importorskip("ruamel.yaml", reason="comes with check-jsonschema (dev)")
    workflow = yaml.YAML(typ="safe").load(NIGHTLY.read_text())
    [command] = [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("run", "").startswith("pytest ")]
    args = shlex.split(re.sub(r"\$\{\{.*?\}\}", "", command))[1:]
    kept, skip_value = [], False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg.split("=", 1)[0] in NOT_SELECTING:
            skip_value = "=" not in arg
        else:
            kept.append(arg)
    return kept


# Collects each selection (a JSON list of pytest arguments per line on stdin) in one fresh
# interpreter, as a GPU runner would: CUDA declared usable. One process, so the benchmarks'
# imports are paid once; not pytester's in-process runs, which unload torch between runs.
COLLECT = """
import json, sys
import pytest
import llmbench.pytest_plugin

llmbench.pytest_plugin.cuda_problem = lambda: None

class Collector:
    def pytest_collection_finish(self, session):
        self.ids = [item.nodeid for item in session.items]

for line in sys.stdin:
    collector = Collector()
    code = pytest.main([*json.loads(line), "--collect-only", "-q", "-p", "no:cacheprovider"],
                       plugins=[collector])
    print("SELECTED", json.dumps({"code": int(code), "ids": getattr(collector, "ids", None)}))
"""


def collected(*selections: list[str]) -> list[set[str]]:
    """The node ids pytest selects from the repository root with each list of arguments."""
    done = subprocess.run([sys.executable, "-c", COLLECT], cwd=REPO, capture_output=True,
                          text=True, timeout=600,
                          input="".join(json.dumps(args) + "\n" for args in selections))
    found = [json.loads(line.removeprefix("SELECTED ")) for line in done.stdout.splitlines()
             if line.startswith("SELECTED ")]
    assert len(found) == len(selections), done.stdout[-2000:] + done.stderr[-2000:]
    assert all(f["code"] == 0 for f in found), done.stdout[-2000:]
    return [set(f["ids"]) for f in found]


def test_the_script_records_every_benchmark_the_nightly_runs():
    selection = script_array("SELECTION")
    text = SCRIPT.read_text()
    run = re.search(r"^run=\((.*?)\)$", text, re.M | re.S).group(1)
    assert '"${SELECTION[@]}"' in run
    assert re.search(r'^"\$\{run\[@\]\}" --update-baselines', text, re.M)  # records, then
    assert re.search(r'^  "\$\{run\[@\]\}" --bench-report', text, re.M)  # checks the same set

    nightly, recorded = collected(nightly_selection(), selection)
    assert recorded == nightly
    assert len(nightly) >= 10 and all("cuda" in nodeid for nodeid in nightly)
    for suite in ("lora_ranks", "quantization", "rag", "generation", "trainer_comparison"):
        assert any(f"test_{suite}.py" in nodeid for nodeid in nightly), suite


def installed_entry_point() -> bool:
    return any(ep.name == "llmbench" for ep in importlib.metadata.entry_points(group="pytest11"))


def test_the_script_loads_the_plugin_once_installed_or_not(monkeypatch):
    plugin = script_array("PLUGIN")
    assert check_plugin(plugin).problem is None  # with the installed entry point, if any
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # as if not installed
    assert check_plugin(plugin).problem is None
    if installed_entry_point():
        monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        problem = check_plugin(["-p", "llmbench.pytest_plugin"]).problem
        assert "already registered" in problem  # what the script's old arguments did


def test_without_cuda_the_script_stops_at_once_naming_what_is_missing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    env = {**os.environ, "OUT": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)  # the script puts src/ on it itself
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MISSING  CUDA: torch" in done.stdout and "sees no CUDA device" in done.stdout
    assert "MISSING  bitsandbytes CUDA kernels" in done.stdout
    assert "ok       llmbench pytest plugin, registered once" in done.stdout
    assert "nothing was run" in done.stdout
    assert not list(tmp_path.iterdir())  # no report, no baselines
