import json

import pytest

from llmbench.regression.baselines import (
    SCHEMA_VERSION,
    BaselineError,
    BaselineStore,
    config_hash,
)
from llmbench.regression.decide import decide
from llmbench.regression.results import Result, cost, info, quality
from llmbench.regression.verdicts import Outcome

CPU_ENV = {"device_class": "cpu", "hardware_key": "cpu/Test CPU x2"}
CUDA_ENV = {"device_class": "cuda", "hardware_key": "cuda/Test GPU"}
PROV = {"git_commit": "abc", "git_dirty": False, "date": "2026-01-01T00:00:00+00:00"}


def make_result(loss=1.0, runtime=10.0, params=None):
    return Result("lora", params or {"rank": 8, "steps": 10},
                  {"loss": quality(loss, "nats", rel_tol=0.05),
                   "runtime_s": cost(runtime, "s", rel_tol=0.5),
                   "curve_points": info(10)})


# Every committed baseline stores the config_hash of its params; a change to how the hash is
# computed (the JSON encoding, the fields, the digest) makes every one of them "not comparable".
# Changing this pinned value therefore needs every baseline under baselines/ re-recorded
# (--update-baselines) in the same change.
PINNED_PARAMS = {"rank": 8, "lora_alpha": 32, "lora_dropout": 0.1, "steps": 20,
                 "target_modules": ["q_proj", "k_proj", "v_proj"], "model": "smollm2-135m",
                 "seq_len": None}
PINNED_HASH = "678b293f525454f2"  # sha256 of the sorted-key JSON of suite and params, 16 hex


def test_config_hash_of_a_fixed_params_dict_is_pinned():
    assert config_hash("lora", PINNED_PARAMS) == PINNED_HASH
    assert config_hash("lora", dict(reversed(PINNED_PARAMS.items()))) == PINNED_HASH
    assert config_hash("quant", PINNED_PARAMS) != PINNED_HASH
    assert config_hash("lora", {**PINNED_PARAMS, "steps": 21}) != PINNED_HASH


def test_every_committed_baseline_carries_the_hash_of_its_params():
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[1] / "baselines").rglob("*.json"))
    assert files
    for path in files:
        data = json.loads(path.read_text())
        assert config_hash(data["suite"], data["params"]) == data["config_hash"], path


def test_write_then_load_round_trip(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.write("smoke", "lora_ranks/lora_rank/r8", make_result(), CPU_ENV, PROV)
    assert path == tmp_path / "smoke" / "lora_ranks" / "lora_rank" / "r8.json"
    baseline = store.load("smoke", "lora_ranks/lora_rank/r8")
    assert baseline.data["schema_version"] == SCHEMA_VERSION
    assert baseline.values("quality", "cpu") == {"loss": 1.0}
    assert baseline.values("cost", "cpu/Test CPU x2") == {"runtime_s": 10.0}
    # informational metrics are never stored as baseline values
    assert "curve_points" not in baseline.entry("quality", "cpu")["metrics"]
    assert baseline.entry("quality", "cpu")["provenance"] == PROV


def test_file_format_is_stable_and_sorted(tmp_path):
    first = BaselineStore(tmp_path / "1").write("smoke", "a/b/c", make_result(), CPU_ENV, PROV).read_text()
    again = BaselineStore(tmp_path / "2").write("smoke", "a/b/c", make_result(), CPU_ENV, PROV).read_text()
    assert again == first
    data = json.loads(first)
    assert list(data) == sorted(data)
    assert first.endswith("\n") and '  "benchmark_id"' in first


def test_update_keeps_other_device_classes(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("p", "x/y/z", make_result(loss=1.0), CPU_ENV, PROV)
    store.write("p", "x/y/z", make_result(loss=2.0), CUDA_ENV, PROV)
    baseline = store.load("p", "x/y/z")
    assert baseline.values("quality", "cpu") == {"loss": 1.0}
    assert baseline.values("quality", "cuda") == {"loss": 2.0}


def test_update_with_changed_params_drops_incomparable_entries(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("p", "x/y/z", make_result(), CPU_ENV, PROV)
    new = make_result(params={"rank": 8, "steps": 20})
    store.write("p", "x/y/z", new, CUDA_ENV, PROV)
    baseline = store.load("p", "x/y/z")
    assert baseline.entry("quality", "cpu") is None
    assert baseline.data["config_hash"] == config_hash("lora", new.params)


def test_interrupted_write_leaves_old_file_intact(tmp_path, monkeypatch):
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", make_result(loss=1.0), CPU_ENV, PROV)
    before = path.read_text()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("llmbench.core.files.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        store.write("p", "x/y/z", make_result(loss=9.0), CPU_ENV, PROV)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith(".")] == ["z.json"]
    assert not list(path.parent.glob(".*.tmp"))


def test_missing_file_loads_as_none(tmp_path):
    assert BaselineStore(tmp_path).load("p", "no/such/bench") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "invalid JSON at line 1 column 2"),
        ("[]", "top level must be a JSON object"),
        ('{"schema_version": 99}', "schema_version is 99"),
        (json.dumps({"schema_version": 1, "benchmark_id": "b", "config_hash": "h",
                     "params": {}, "quality": {"cpu": {"metrics": {"loss": {"value": "x"}}}}}),
         "quality.cpu.metrics.loss.value"),
        (json.dumps({"schema_version": 1, "benchmark_id": "b", "config_hash": "h",
                     "params": {}, "quality": {"cpu": {}}}), "quality.cpu.metrics"),
    ],
)
def test_corrupt_or_invalid_files_name_path_and_problem(tmp_path, content, problem):
    path = tmp_path / "p" / "x.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(BaselineError) as info_:
        BaselineStore(tmp_path).load("p", "x")
    assert str(path) in str(info_.value)
    assert problem in str(info_.value)


def test_decide_picks_device_class_and_hardware(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("p", "b", make_result(loss=1.0, runtime=10.0), CPU_ENV, PROV)
    baseline = store.load("p", "b")
    worse = make_result(loss=1.2, runtime=10.0)
    assert decide(worse, baseline, CPU_ENV).outcome is Outcome.REGRESSED
    slower_elsewhere = make_result(loss=1.0, runtime=100.0)
    other_cpu = {"device_class": "cpu", "hardware_key": "cpu/Other x64"}
    assert decide(slower_elsewhere, baseline, other_cpu).outcome is Outcome.PASS
    assert decide(slower_elsewhere, baseline, CPU_ENV).outcome is Outcome.REGRESSED


def test_loss_curve_is_kept_beside_quality_metrics_for_the_report(tmp_path):
    result = make_result()
    result.artifacts["loss_curve"] = [3.0, 2.5, 2.0]
    result.artifacts["per_question"] = [{"q": "x"}]
    store = BaselineStore(tmp_path)
    store.write("p", "b", result, CPU_ENV, PROV)
    entry = store.load("p", "b").entry("quality", "cpu")
    assert entry["artifacts"] == {"loss_curve": [3.0, 2.5, 2.0]}


def test_written_files_get_the_usual_mode_not_0600(tmp_path):
    import os
    umask = os.umask(0o022)
    try:
        path = BaselineStore(tmp_path).write("p", "b", make_result(), CPU_ENV, PROV)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_rewrite_keeps_the_previous_values_and_provenance(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("p", "x/y/z", make_result(loss=1.0), CPU_ENV, PROV)
    accepted = {**PROV, "git_commit": "def", "reason": "new tokenizer", "author": "ana"}
    store.write("p", "x/y/z", make_result(loss=1.2), CPU_ENV, accepted)
    entry = store.load("p", "x/y/z").entry("quality", "cpu")
    assert entry["provenance"]["reason"] == "new tokenizer"
    assert entry["previous"] == {"provenance": PROV, "values": {"loss": 1.0}}
    # one level only: a third write keeps the second's values, not a chain
    store.write("p", "x/y/z", make_result(loss=1.3), CPU_ENV, PROV)
    previous = store.load("p", "x/y/z").entry("quality", "cpu")["previous"]
    assert previous["values"] == {"loss": 1.2} and "previous" not in previous


def test_version_1_files_are_still_read(tmp_path):
    path = tmp_path / "p" / "x" / "y" / "z.json"
    path.parent.mkdir(parents=True)
    result = make_result()
    path.write_text(json.dumps({
        "schema_version": 1, "benchmark_id": "x/y/z", "config_hash":
        config_hash(result.suite, result.params), "params": result.params,
        "quality": {"cpu": {"metrics": {"loss": {"value": 1.0}}}}, "cost": {}}))
    baseline = BaselineStore(tmp_path).load("p", "x/y/z")
    assert decide(result, baseline, CPU_ENV).outcome is Outcome.PASS


def test_samples_that_are_not_numbers_name_the_field(tmp_path):
    store = BaselineStore(tmp_path)
    path = store.write("p", "x/y/z", make_result(), CPU_ENV, PROV)
    data = json.loads(path.read_text())
    data["quality"]["cpu"]["metrics"]["loss"]["samples"] = [1.0, "fast"]
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match=r"quality\.cpu\.metrics\.loss\.samples"):
        store.load("p", "x/y/z")


def test_calibrated_noise_is_kept_only_on_the_cpu_it_was_measured_on(tmp_path):
    store = BaselineStore(tmp_path)
    here = {**CPU_ENV, "cpu_signature": "AVX512; cpu family 25 model 17 stepping 1"}
    timed = make_result()
    timed.metrics["runtime_s"].samples = [9.8, 10.0, 10.2, 9.9, 10.1]
    store.write("smoke", "a/b/c", timed, here, PROV, calibrate=True)
    noise = store.load("smoke", "a/b/c").references("cost", "cpu/Test CPU x2")["runtime_s"].noise
    assert noise["cpu_signature"] == here["cpu_signature"] and noise["within_cv"] > 0
    store.write("smoke", "a/b/c", make_result(), here, PROV)  # --update-baselines, same CPU
    kept = store.load("smoke", "a/b/c").references("cost", "cpu/Test CPU x2")["runtime_s"]
    assert kept.noise == noise
    # the same hardware key on another instruction set: that calibration says nothing here
    store.write("smoke", "a/b/c", make_result(), {**here, "cpu_signature": "AVX2"}, PROV)
    dropped = store.load("smoke", "a/b/c").references("cost", "cpu/Test CPU x2")["runtime_s"]
    assert dropped.noise is None
