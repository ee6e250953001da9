"""decide(result, baseline, env, policy): the verdict on one benchmark, without pytest."""

from __future__ import annotations

import json
import math

import pytest

from llmbench.regression.baselines import BaselineStore
from llmbench.regression.decide import Policy, decide
from llmbench.regression.results import Determinism, Result, cost, quality
from llmbench.regression.verdicts import Outcome, Verdict

CPU = {"device_class": "cpu", "hardware_key": "cpu/Test x2"}
PROV = {"git_commit": "abc", "git_dirty": False, "date": "2026-01-01T00:00:00+00:00"}


def result(loss=1.0, runtime=1.0, steps=10, samples=None) -> Result:
    runtime_metric = cost(runtime, "s", kind="time")
    runtime_metric.samples = samples
    return Result("lora", {"rank": 8, "steps": steps},
                  {"loss": quality(loss, "nats", kind="loss", determinism=Determinism.SEEDED),
                   "runtime_s": runtime_metric})


def stored(tmp_path, **kwargs):
    store = BaselineStore(tmp_path)
    store.write("p", "a/b/c", result(**kwargs), CPU, PROV)
    return store.load("p", "a/b/c")


def test_no_baseline_is_new():
    decision = decide(result(), None, CPU)
    assert decision.outcome is Outcome.NEW and decision.outcome.fails


def test_changed_params_are_not_comparable_and_named(tmp_path):
    decision = decide(result(steps=20), stored(tmp_path), CPU)
    assert decision.outcome is Outcome.NOT_COMPARABLE
    assert "steps: 10 -> 20" in decision.reason
    assert decision.changed_params == {"steps": (10, 20)}


def test_a_hand_edited_config_hash_says_so_instead_of_suite_changed(tmp_path):
    baseline = stored(tmp_path)
    data = json.loads(baseline.path.read_text())
    data["config_hash"] = "0000000000000000"
    baseline.path.write_text(json.dumps(data))
    decision = decide(result(), BaselineStore(tmp_path).load("p", "a/b/c"), CPU)
    assert decision.outcome is Outcome.NOT_COMPARABLE
    assert "edited by hand" in decision.reason and "suite changed" not in decision.reason


def test_no_entry_for_this_device_class_is_new(tmp_path):
    decision = decide(result(), stored(tmp_path), {**CPU, "device_class": "cuda"})
    assert decision.outcome is Outcome.NEW and "'cuda'" in decision.reason


def test_same_run_passes_and_a_doubled_runtime_regresses(tmp_path):
    baseline = stored(tmp_path, samples=[0.98, 1.0, 1.02, 0.99, 1.01])
    assert decide(result(), baseline, CPU).outcome is Outcome.PASS
    slow = decide(result(runtime=2.0), baseline, CPU)
    assert slow.outcome is Outcome.REGRESSED
    assert [row.name for row in slow.moved()] == ["runtime_s"]


def test_other_hardware_compares_quality_and_says_why_cost_was_not(tmp_path):
    decision = decide(result(runtime=9.0), stored(tmp_path), {**CPU, "hardware_key": "cpu/Big"})
    assert decision.outcome is Outcome.PASS
    assert "no cost baseline for hardware 'cpu/Big'" in decision.reason
    assert "cpu/Test x2" in decision.reason


def test_timings_from_another_torch_thread_count_are_not_compared_on_cpu(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("p", "a/b/c", result(), {**CPU, "torch_threads": 1}, PROV)
    baseline = store.load("p", "a/b/c")
    # two threads ran it twice as fast: not an improvement, another workload
    decision = decide(result(runtime=0.5), baseline, {**CPU, "torch_threads": 2})
    assert decision.outcome is Outcome.PASS  # the loss was still compared
    assert "recorded with 1 torch thread(s), this run has 2" in decision.reason
    assert "--bench-threads 1" in decision.reason
    assert {r.name: r.verdict for r in decision.rows}["runtime_s"] is Verdict.NOT_COMPARED
    same = decide(result(runtime=2.0), baseline, {**CPU, "torch_threads": 1})
    assert same.outcome is Outcome.REGRESSED
    # ...and from another number of processes sharing the cores (pytest-xdist workers)
    shared = decide(result(runtime=0.5), baseline, {**CPU, "torch_threads": 1, "workers": 2})
    assert "recorded with 1 worker(s) x 1 torch thread(s), this run has 2 x 1" in shared.reason
    assert {r.name: r.verdict for r in shared.rows}["runtime_s"] is Verdict.NOT_COMPARED
    # a baseline recorded before the worker count was kept ran one process
    assert decide(result(runtime=2.0), baseline,
                  {**CPU, "torch_threads": 1, "workers": 1}).outcome is Outcome.REGRESSED
    gpu_env = {"device_class": "cuda", "hardware_key": "cuda/H x1"}
    store.write("g", "a/b/c", result(), {**gpu_env, "torch_threads": 8}, PROV)
    gpu = decide(result(runtime=2.0), store.load("g", "a/b/c"), {**gpu_env, "torch_threads": 4})
    assert gpu.outcome is Outcome.REGRESSED  # GPU timings do not hinge on CPU threads


def test_only_cost_metrics_and_no_cost_compare_is_not_compared(tmp_path):
    store = BaselineStore(tmp_path)
    timing = Result("rag", {"retriever": "bm25"}, {"retrieval_p50_s": cost(0.1, "s",
                                                                             kind="time")})
    store.write("p", "rag/x/bm25", timing, CPU, PROV)
    decision = decide(timing, store.load("p", "rag/x/bm25"), CPU, Policy(compare_cost=False))
    assert decision.outcome is Outcome.NOT_COMPARED and not decision.outcome.fails
    assert "--no-cost-compare" in decision.reason


def test_busy_run_reports_busy_with_the_reason(tmp_path):
    busy = result(runtime=4.0)
    busy.busy = "machine busy: the process got 35% of a core"
    decision = decide(busy, stored(tmp_path), CPU)
    assert decision.outcome is Outcome.BUSY and "35% of a core" in decision.reason
    assert {r.name: r.verdict for r in decision.rows}["runtime_s"] is Verdict.BUSY


def test_a_one_percent_worse_seeded_loss_fails_on_the_same_platform(tmp_path):
    env = {**CPU, "cpu_signature": "AVX2", "python": "3.11", "packages": {"torch": "2"},
           "torch_threads": 1}
    store = BaselineStore(tmp_path)
    store.write("p", "a/b/c", result(), env, PROV)
    decision = decide(result(loss=1.01), store.load("p", "a/b/c"), env)
    assert decision.outcome is Outcome.REGRESSED
    assert decision.moved()[0].tolerance == "near-exact"


def test_machine_drift_is_the_probed_speed_difference_from_the_baseline(tmp_path):
    from llmbench.regression.baselines import Baseline
    from llmbench.regression.decide import machine_drift
    from llmbench.regression.results import Result

    baseline = Baseline(tmp_path / "b.json", {"cost": {"cpu/x": {
        "metrics": {}, "speed_probe": {"ms": 4.0, "version": 1}}}})
    probed = Result("lora", {}, machine={"speed_probe_ms": 5.0, "speed_probe_version": 1})
    assert machine_drift(probed, baseline, "cpu/x") == pytest.approx(math.log(5.0 / 4.0))
    assert machine_drift(probed, baseline, "cpu/other") == 0.0
    unprobed = Result("lora", {})
    assert machine_drift(unprobed, baseline, "cpu/x") == 0.0
    other_version = Result("lora", {}, machine={"speed_probe_ms": 5.0, "speed_probe_version": 2})
    assert machine_drift(other_version, baseline, "cpu/x") == 0.0
