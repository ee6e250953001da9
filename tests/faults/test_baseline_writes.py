"""Faults around writing baselines: concurrency, NaN, non-reproducible metrics, a file system
that says no, a writer killed mid-write. Each loses nothing: every entry survives, the old file
stays byte-identical, the reason names the path."""

from __future__ import annotations

import json
import math
import multiprocessing
import os

import pytest

from llmbench.core.files import atomic_write_text, lock_path
from llmbench.regression.baselines import (
    BaselineRefused,
    BaselineStore,
    BaselineWriteError,
)
from llmbench.regression.results import Determinism, Result, cost, quality

PROV = {"git_commit": "abc", "git_dirty": False, "date": "2026-01-01T00:00:00+00:00"}


def env(key: str) -> dict:
    return {"device_class": "cpu", "hardware_key": key}


def result(loss: float = 1.0, runtime: float = 10.0) -> Result:
    return Result("lora", {"rank": 8}, {
        "loss": quality(loss, "nats", kind="loss", determinism=Determinism.SEEDED),
        "runtime_s": cost(runtime, "s", kind="time")})


def _write_as(args: tuple[str, str, int]) -> None:
    root, key, writes = args
    store = BaselineStore(root)
    for i in range(writes):
        store.write("p", "x/y/z", result(runtime=float(i + 1)), env(key), PROV)


@pytest.mark.parametrize("attempt", range(20))
def test_concurrent_writers_on_different_hardware_keep_every_entry(tmp_path, attempt):
    keys = [f"cpu/runner-{n}" for n in range(4)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(len(keys)) as pool:
        pool.map(_write_as, [(str(tmp_path), key, 3) for key in keys])
    data = json.loads((tmp_path / "p" / "x" / "y" / "z.json").read_text())
    assert sorted(data["cost"]) == keys
    assert all(entry["metrics"]["runtime_s"]["value"] == 3.0 for entry in data["cost"].values())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_a_non_finite_value_is_refused_and_the_old_file_stays_byte_identical(tmp_path, bad):
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", result(), env("cpu/a"), PROV)
    before = path.read_bytes()
    with pytest.raises(BaselineRefused) as refused:
        store.write("p", "x/y/z", result(loss=bad), env("cpu/a"), PROV)
    assert f"loss: value is {bad} (not a finite number)" in str(refused.value)
    assert str(path) in str(refused.value)
    assert path.read_bytes() == before
    with pytest.raises(BaselineRefused, match=f"runtime_s: value is {bad}"):
        store.write("p", "x/y/z", result(runtime=bad), env("cpu/a"), PROV)
    assert path.read_bytes() == before


def test_nondeterministic_metric_is_refused(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", result(), env("cpu/a"), PROV)
    before = path.read_bytes()
    bad = result()
    bad.nondeterministic = {"loss": [1.0, 1.1]}
    with pytest.raises(BaselineRefused, match=r"loss: should reproduce"):
        store.write("p", "x/y/z", bad, env("cpu/a"), PROV)
    assert path.read_bytes() == before


def test_read_only_directory_is_a_clear_error_naming_the_path(tmp_path):
    if os.geteuid() == 0:  # an expected skip in CI (tests/expected_skips.py)
        pytest.skip("root ignores directory permissions; the plugin-level test patches the "
                    "write instead")
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", result(), env("cpu/a"), PROV)
    before = path.read_bytes()
    path.parent.chmod(0o555)
    try:
        with pytest.raises(BaselineWriteError) as error:
            store.write("p", "x/y/z", result(loss=2.0), env("cpu/a"), PROV)
    finally:
        path.parent.chmod(0o755)
    assert str(error.value).startswith(f"baseline file {path}: cannot be written: ")
    assert "Permission denied" in str(error.value)
    assert error.value.path == path
    assert path.read_bytes() == before


def test_disk_full_is_a_clear_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", result(), env("cpu/a"), PROV)
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("llmbench.core.files.os.fsync", full)
    with pytest.raises(BaselineWriteError, match="No space left on device") as error:
        store.write("p", "x/y/z", result(loss=2.0), env("cpu/a"), PROV)
    assert str(path) in str(error.value)
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*.tmp"))


def test_temp_files_of_a_killed_writer_are_ignored_and_cleaned(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", result(), env("cpu/a"), PROV)
    stale = path.parent / f".{path.name}.dead1234.tmp"
    stale.write_text("{half a file")
    assert store.load("p", "x/y/z").values("quality", "cpu") == {"loss": 1.0}
    store.write("p", "x/y/z", result(loss=1.5), env("cpu/a"), PROV)
    assert not stale.exists()
    assert lock_path(path).name == ".z.json.lock"


def test_unavailable_metrics_keep_their_old_values(tmp_path):
    store = BaselineStore(tmp_path)
    with_meteor = result()
    with_meteor.metrics["meteor"] = quality(0.3, kind="text_score")
    store.write("p", "x/y/z", with_meteor, env("cpu/a"), PROV)
    without = result(loss=1.01)
    without.unavailable = {"meteor": "WordNet is not installed"}
    store.write("p", "x/y/z", without, env("cpu/a"), PROV)
    entry = store.load("p", "x/y/z").entry("quality", "cpu")
    assert entry["metrics"]["meteor"]["value"] == 0.3
    assert entry["kept_unavailable"] == {"meteor": "WordNet is not installed"}


def test_gitignore_covers_lock_and_temp_files():
    from pathlib import Path

    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text()
    assert ".*.json.lock" in ignored and ".*.json.*.tmp" in ignored


def test_atomic_write_replaces_in_one_step(tmp_path):
    target = tmp_path / "f.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
