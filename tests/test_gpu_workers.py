"""One GPU per xdist worker: the worker -> CUDA_VISIBLE_DEVICES mapping, checked on CPU."""

from __future__ import annotations

import pytest

from llmbench.pytest_plugin.gpu_workers import SWITCH, assign_gpu, visible_gpus, worker_index

pytest_plugins = ["pytester"]


# Each test writes the CUDA_VISIBLE_DEVICES its xdist worker saw into $GPU_MAP_OUT/<worker>-<i>.
RECORD_GPU_PER_TEST = """
import os
from pathlib import Path

import pytest

@pytest.mark.parametrize("i", range(4))
def test_record(i, worker_id):
    (Path(os.environ["GPU_MAP_OUT"]) / f"{worker_id}-{i}").write_text(
        os.environ["CUDA_VISIBLE_DEVICES"])
"""


def no_gpus() -> list[str]:
    return []


def four_gpus() -> list[str]:
    return ["0", "1", "2", "3"]


@pytest.mark.parametrize(("worker_id", "index"), [(None, None), ("", None), ("gw0", 0),
                                                   ("gw12", 12)])
def test_worker_index(worker_id, index):
    assert worker_index(worker_id) == index


def test_worker_index_rejects_other_ids():
    with pytest.raises(ValueError, match="PYTEST_XDIST_WORKER='master'"):
        worker_index("master")


@pytest.mark.parametrize(("worker", "gpu"), [("gw0", "0"), ("gw1", "1"), ("gw3", "3")])
def test_each_worker_gets_its_own_gpu_from_the_driver_list(worker, gpu):
    env = {"PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": "4"}
    assert assign_gpu(env, four_gpus) == gpu
    assert env["CUDA_VISIBLE_DEVICES"] == gpu


def test_an_existing_cuda_visible_devices_list_is_split_among_workers():
    gpus = [assign_gpu({"PYTEST_XDIST_WORKER": f"gw{i}", "CUDA_VISIBLE_DEVICES": "2, 5,GPU-ab"},
                       no_gpus) for i in range(3)]
    assert gpus == ["2", "5", "GPU-ab"]


def test_more_workers_than_gpus_share_round_robin_with_a_warning():
    with pytest.warns(RuntimeWarning, match="3 xdist workers share 2 GPU"):
        first = assign_gpu({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "3",
                            "CUDA_VISIBLE_DEVICES": "0,1"})
    third = assign_gpu({"PYTEST_XDIST_WORKER": "gw2", "PYTEST_XDIST_WORKER_COUNT": "3",
                        "CUDA_VISIBLE_DEVICES": "0,1"})
    assert (first, third) == ("0", "0")


@pytest.mark.parametrize("env", [
    {},  # not under xdist
    {"PYTEST_XDIST_WORKER": "gw1", SWITCH: "0", "CUDA_VISIBLE_DEVICES": "0,1"},  # switched off
    {"PYTEST_XDIST_WORKER": "gw1"},  # no GPU at all
    {"PYTEST_XDIST_WORKER": "gw1", "CUDA_VISIBLE_DEVICES": ""},  # GPUs hidden on purpose
])
def test_nothing_changes_when_it_does_not_apply(env):
    before = dict(env)
    assert assign_gpu(env, no_gpus) is None
    assert env == before


def test_the_switch_accepts_only_0_or_1():
    with pytest.raises(ValueError, match=f"{SWITCH}='yes'"):
        assign_gpu({"PYTEST_XDIST_WORKER": "gw0", SWITCH: "yes"}, four_gpus)


def test_visible_gpus_prefers_cuda_visible_devices():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "3,1"}, four_gpus) == ["3", "1"]
    assert visible_gpus({}, four_gpus) == ["0", "1", "2", "3"]


def test_real_xdist_workers_each_see_one_gpu(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch):
    """Two real xdist workers, two (pretend) GPUs listed in CUDA_VISIBLE_DEVICES."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,7")
    monkeypatch.delenv(SWITCH, raising=False)
    pytester.makeconftest("""
from llmbench.pytest_plugin.gpu_workers import assign_gpu

def pytest_configure(config):
    # what the llmbench plugin does first in its pytest_configure (the controller hands out)
    assign_gpu(distributing=not hasattr(config, "workerinput") and config.option.dist != "no")
""")
    out = pytester.path / "seen"
    out.mkdir()
    monkeypatch.setenv("GPU_MAP_OUT", str(out))
    pytester.makepyfile(RECORD_GPU_PER_TEST)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only xdist is needed: faster
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    seen = {(p.name.split("-")[0], p.read_text()) for p in out.iterdir()}
    assert seen == {("gw0", "6"), ("gw1", "7")}


def test_the_plugin_pins_each_xdist_worker_to_one_gpu(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,7")
    monkeypatch.delenv(SWITCH, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    out = pytester.path / "seen"
    out.mkdir()
    monkeypatch.setenv("GPU_MAP_OUT", str(out))
    pytester.makepyfile(RECORD_GPU_PER_TEST)
    result = pytester.runpytest_subprocess("-p", "llmbench.pytest_plugin", "-p", "xdist", "-n", "2",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert {(p.name.split("-")[0], p.read_text()) for p in out.iterdir()} == {("gw0", "6"),
                                                                              ("gw1", "7")}


def test_a_run_without_xdist_is_pinned_to_the_first_of_several_gpus():
    env: dict[str, str] = {}
    assert assign_gpu(env, four_gpus) == "0"
    assert env["CUDA_VISIBLE_DEVICES"] == "0"  # Trainer sees one GPU: no DataParallel
    listed = {"CUDA_VISIBLE_DEVICES": "3,1"}
    assert assign_gpu(listed, no_gpus) == "3" and listed["CUDA_VISIBLE_DEVICES"] == "3"


def test_the_xdist_controller_and_a_single_gpu_are_left_alone():
    controller = {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert assign_gpu(controller, no_gpus, distributing=True) is None
    assert controller == {"CUDA_VISIBLE_DEVICES": "0,1"}  # its workers split these
    single: dict[str, str] = {}
    assert assign_gpu(single, lambda: ["0"]) is None and single == {}
    switched_off = {SWITCH: "0"}
    assert assign_gpu(switched_off, four_gpus) is None and "CUDA_VISIBLE_DEVICES" not in \
        switched_off


def test_the_plugin_pins_a_run_without_xdist_to_one_gpu(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,7")
    monkeypatch.delenv(SWITCH, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    out = pytester.path / "seen"
    out.mkdir()
    monkeypatch.setenv("GPU_MAP_OUT", str(out))
    pytester.makepyfile("""
import os
from pathlib import Path

def test_record():
    (Path(os.environ["GPU_MAP_OUT"]) / "main").write_text(os.environ["CUDA_VISIBLE_DEVICES"])
""")
    result = pytester.runpytest_subprocess("-p", "llmbench.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert (out / "main").read_text() == "6"
