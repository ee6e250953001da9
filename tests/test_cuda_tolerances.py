"""What a CUDA run is judged by: device-bound timings by the declared CUDA tolerances, timings
paced by the host by the CPU's (floors included) until --calibrate, host memory by the CPU's."""

from __future__ import annotations

import dataclasses

import pytest

from llmbench.measure.trackers import RssReport
from llmbench.measure.training import TrainReport
from llmbench.profiles import PROFILES
from llmbench.regression.compare import Context, compare_metric
from llmbench.regression.results import Result, cost
from llmbench.regression.tolerances import tolerance
from llmbench.suites.lora import runner as lora_runner
from llmbench.suites.quant import run_quant_benchmark
from llmbench.suites.quant.reference import ReferenceCache
from llmbench.suites.rag.pipeline import RetrievalTask

CUDA = Context(device_class="cuda")


@pytest.mark.parametrize(("host_kind", "cpu_kind"), [("host_time", "time"),
                                                     ("host_throughput", "throughput"),
                                                     ("host_speed_ratio", "speed_ratio")])
def test_host_bound_kinds_have_the_cpu_tolerances_on_every_device(host_kind, cpu_kind):
    assert tolerance(host_kind, "cuda") == tolerance(cpu_kind, "cpu")
    assert tolerance(host_kind, "cpu") == tolerance(cpu_kind, "cpu")  # CPU verdicts unchanged


def test_a_host_bound_cuda_timing_is_not_failed_for_a_few_milliseconds():
    # an 8-token generation of 40 ms that took 52 ms in one round: launch jitter on the host
    host = compare_metric("generate_min_s", cost(0.052, "s", kind="host_time", device="cuda"),
                          0.040, CUDA)
    device = compare_metric("generate_min_s", cost(0.052, "s", kind="time", device="cuda"),
                            0.040, CUDA)
    assert host.verdict.value == "pass"  # within the 25 ms floor
    assert device.verdict.value == "regressed"  # what the device-bound CUDA tolerances said


def test_device_bound_cuda_times_have_a_one_millisecond_floor():
    assert tolerance("time", "cuda").abs_tol_in("ms") == pytest.approx(1.0)
    assert cost(3.0, "ms", kind="time", device="cuda").abs_tol == pytest.approx(1.0)


def test_the_quantization_suite_marks_its_host_bound_timings():
    fast = dataclasses.replace(PROFILES["smoke"].quant, eval_examples=2, qlora_steps=2,
                               generate_tokens=2, latency_rounds=1, latency_warmup_rounds=0)
    result = run_quant_benchmark(fast, "fp32", "cpu", references=ReferenceCache())
    kinds = {name: result.metrics[name].kind for name in (
        "load_s", "generate_min_s", "generate_tokens_per_s", "forward_min_ms",
        "qlora_runtime_s")}
    assert kinds == {"load_s": "host_time", "generate_min_s": "host_time",
                     "generate_tokens_per_s": "host_throughput", "forward_min_ms": "time",
                     "qlora_runtime_s": "time"}


def test_rag_retrieval_latency_on_cuda_keeps_the_cpu_floor():
    task = RetrievalTask(PROFILES["smoke"].rag, retriever=None, questions=["q"] * 4, params={})
    p50 = task.result([0.004, 0.0042, 0.0041], "cuda").metrics["retrieval_p50_s"]
    assert p50.kind == "host_time" and p50.abs_tol == pytest.approx(0.025)


def lora_metrics_on_cuda() -> Result:
    settings = PROFILES["opt-350m-random"].lora
    steps = settings.steps
    report = TrainReport(warmup_steps=2, losses=[9.0] * steps, step_seconds=[0.1] * steps,
                         step_tokens=[4096] * steps,
                         reference_seconds=[0.0004] * (steps + 1))
    result = Result(suite="lora", params={})
    lora_runner._add_training_metrics(result, settings, report, eval_loss=9.0, device="cuda")
    rss = RssReport(mean_mb=3000, std_mb=10, min_mb=2990, max_mb=3040, samples=9,
                    start_mb=2990, sampler_cpu_s=0.01)
    lora_runner._add_rss_metrics(result, type("Sampler", (), {"report": rss})())
    return result


def test_lora_host_memory_growth_is_judged_by_the_cpu_memory_tolerance_on_cuda():
    result = lora_metrics_on_cuda()
    growth = result.metrics["rss_growth_mb"]
    assert growth.value == pytest.approx(50)
    assert (growth.rel_tol, growth.abs_tol) == (tolerance("memory", "cpu").rel_tol, 16.0)
    # 50 MB -> 64 MB of host memory (CUDA modules loaded on first use): not a regression
    row = compare_metric("rss_growth_mb", dataclasses.replace(growth, value=64.0), 50.0, CUDA)
    assert row.verdict.value == "pass"
    assert result.metrics["runtime_s"].rel_tol == tolerance("time", "cuda").rel_tol


def test_lora_relative_step_cost_is_recorded_not_compared_on_cuda():
    result = lora_metrics_on_cuda()
    assert result.metrics["relative_step_cost"].compare is False
    assert any("launch" in note for note in result.notes)
