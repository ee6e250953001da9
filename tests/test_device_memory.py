"""A benchmark's GPU memory is its own, whatever ran before it in the process.

Without a GPU, a fake device (``fakes.device_memory``) plays the counters: the models a runner
loads count as allocated while they live, the first matmuls of the process leave a workspace,
and training adds a transient peak. "After other suites" holds what the RAG and generation
suites keep cached for the session: a model in ``inference_model``'s cache, and the workspace
of their matmuls.
"""

from __future__ import annotations

import dataclasses
import weakref

import pytest
from fakes.device_memory import MB, FakeDeviceMemory, tensor_bytes

from llmbench.measure.device_memory import MemoryReading, device_memory_for, settled_reading
from llmbench.measure.trackers import CudaMemoryTracker
from llmbench.profiles import PROFILES, LoraSettings
from llmbench.sources import models
from llmbench.suites.lora import runner as lora_runner
from llmbench.suites.quant import runner as quant_runner
from llmbench.suites.quant.reference import ReferenceCache

LORA = LoraSettings(model="tiny-opt-random", seq_len=256, batch_size=2, steps=3, lr=5e-3,
                    warmup_steps=1, eval_examples=2, final_loss_window=2, settle_threshold=5.5,
                    settle_window=2)
QUANT = dataclasses.replace(PROFILES["smoke"].quant, eval_examples=2, qlora_steps=2,
                            generate_tokens=2, latency_rounds=1, latency_warmup_rounds=0)
CUDA_FIGURES = ("peak_cuda_allocated_mb", "peak_cuda_reserved_mb", "peak_cuda_allocated_pct")


def model_mb(model) -> float:
    return sum(size for _, size in tensor_bytes(model)) / MB


@pytest.fixture
def other_suites():
    """A device on which the RAG generator (or judge) is cached for the session and whose
    matmuls have run: what a benchmark finds after test_generation.py and test_rag.py."""
    models.inference_model.cache_clear()
    memory = FakeDeviceMemory()
    cached = memory.hold(models.inference_model(models.TINY_OPT))
    memory.warm_up()
    yield memory, model_mb(cached)
    models.inference_model.cache_clear()


def loads_onto(memory, runner, monkeypatch):
    """Every model ``runner`` loads is held on the fake device while it lives."""
    real = runner.load_model
    monkeypatch.setattr(runner, "load_model", lambda *a, **k: memory.hold(real(*a, **k)))


def test_the_tracker_reports_growth_over_what_the_benchmark_found():
    memory = FakeDeviceMemory(transient=10 * MB)
    cached = memory.hold(torch_linear(500))  # an earlier benchmark's model, still cached
    found = settled_reading(memory)
    model = memory.hold(torch_linear(300))
    with CudaMemoryTracker("cuda", memory=memory, found=found) as tracker:
        pass
    report = tracker.report
    own = model_mb(model) + 10
    assert report.peak_allocated_mb == pytest.approx(own)
    assert report.peak_reserved_mb == pytest.approx(own)
    assert report.found_allocated_mb == pytest.approx(model_mb(cached) + 32)  # + workspace
    assert report.to_dict()["peak_allocated_pct"] == pytest.approx(100 * own / 80_000)


def test_without_a_found_reading_the_tracker_starts_from_its_entry():
    memory = FakeDeviceMemory(transient=7 * MB)
    cached = memory.hold(torch_linear(200))
    memory.warm_up()
    entry = MemoryReading(memory.allocated, memory.reserved)
    with CudaMemoryTracker("cuda", memory=memory) as tracker:
        pass
    assert tracker.found == entry
    assert tracker.report.peak_allocated_mb == pytest.approx(7)
    assert tracker.report.found_allocated_mb == pytest.approx(model_mb(cached) + 32)


def test_settling_allocates_the_workspace_first_so_the_benchmark_does_not_carry_it():
    memory = FakeDeviceMemory(workspace=32 * MB)
    assert settled_reading(memory).allocated == 32 * MB


def test_a_cpu_has_no_device_memory_counters():
    assert device_memory_for("cpu") is None
    assert device_memory_for("cuda:1").device == "cuda:1"
    with pytest.raises(ValueError, match="CUDA device"):
        CudaMemoryTracker("cpu")


def test_lora_gpu_memory_is_the_same_alone_and_after_suites_that_hold_models(other_suites,
                                                                               monkeypatch):
    alone_memory = FakeDeviceMemory()
    loads_onto(alone_memory, lora_runner, monkeypatch)
    alone = lora_runner.run_lora_benchmark(LORA, rank=8, device="cpu",
                                           device_memory=alone_memory)

    busy, held_mb = other_suites
    loads_onto(busy, lora_runner, monkeypatch)
    after = lora_runner.run_lora_benchmark(LORA, rank=8, device="cpu", device_memory=busy)

    assert busy.allocated / MB > held_mb  # the cached model stayed on the device throughout
    assert after.artifacts["cuda_memory"]["found_allocated_mb"] > held_mb
    for name in CUDA_FIGURES:
        assert after.metrics[name].value == alone.metrics[name].value, name
    tiny = model_mb(models.load_model(models.TINY_OPT))
    # its own model plus what training adds, neither the cached model nor the workspace
    assert alone.metrics["peak_cuda_allocated_mb"].value == pytest.approx(tiny + 100)


def test_quantization_gpu_memory_is_the_same_alone_and_after_suites_that_hold_models(
        other_suites, monkeypatch):
    def measure(memory):
        loads_onto(memory, quant_runner, monkeypatch)
        return quant_runner.run_quant_benchmark(QUANT, "nf4", "cpu", references=ReferenceCache(),
                                                device_memory=memory)

    alone = measure(FakeDeviceMemory())
    busy, _ = other_suites
    after = measure(busy)
    for name in ("cuda_model_mb", "peak_cuda_allocated_mb", "peak_cuda_reserved_mb"):
        assert after.metrics[name].value == alone.metrics[name].value, name
    # QLoRA holds one quantized model (its fresh load) and what training adds: not a second one
    assert alone.metrics["peak_cuda_allocated_mb"].value == pytest.approx(
        alone.metrics["cuda_model_mb"].value + 100)


def test_qlora_trains_a_fresh_load_and_nothing_of_the_evaluated_model_is_alive(monkeypatch):
    import bitsandbytes as bnb

    loads: list[list[weakref.ref]] = []
    real_load = quant_runner.load_model

    def load_model(*args, **kwargs):
        model = real_load(*args, **kwargs)
        loads.append([weakref.ref(m) for m in model.modules()
                      if isinstance(m, bnb.nn.Linear4bit)])
        return model

    alive_when_training: list[list[bool]] = []
    real_run = quant_runner.run_qlora

    def run_qlora(model, *args, **kwargs):
        trained = {id(m) for m in model.modules()}
        alive_when_training.extend([[ref() is not None and id(ref()) in trained
                                     for ref in load] for load in loads
                                    if any(ref() is not None for ref in load)])
        return real_run(model, *args, **kwargs)

    monkeypatch.setattr(quant_runner, "load_model", load_model)
    monkeypatch.setattr(quant_runner, "run_qlora", run_qlora)
    quant_runner.run_quant_benchmark(QUANT, "nf4", "cpu", references=ReferenceCache())
    # one load's 4-bit layers are alive when QLoRA starts, and they are the ones it trains:
    # a deep copy would keep the evaluated model's (Params4bit.module points at them)
    assert len(alive_when_training) == 1 and all(alive_when_training[0])


def torch_linear(mb: int):
    import torch

    return torch.nn.Linear(mb * MB // 4 // 1000, 1000, bias=False)
