"""The fp32 reference, the quantization error against it, and the runner end to end."""

from __future__ import annotations

import dataclasses
import math

import pytest

from llmbench.measure.latency import perf_counter_rounds, time_rounds
from llmbench.profiles import PROFILES
from llmbench.sources.models import TINY_OPT, load_model
from llmbench.suites.quant import QuantizationLoadError, get_precision, run_quant_benchmark
from llmbench.suites.quant.reference import (
    Fp32Reference,
    ReferenceCache,
    ReferenceKey,
    quantization_error,
)
from llmbench.suites.quant.runner import check_quantized

KEY = ReferenceKey("tiny-opt-random", "fixtures:codealpaca", 256, 2, 8, "cpu")

# The smoke profile, cut down to the least work that still exercises every stage.
FAST = dataclasses.replace(PROFILES["smoke"].quant, eval_examples=2, qlora_steps=2,
                           generate_tokens=2, latency_rounds=1, latency_warmup_rounds=0)


def test_quantization_error_is_measured_against_fp32():
    reference = Fp32Reference(eval_loss=2.0, footprint_bytes=1000, origin="test")
    error = quantization_error(2.1, 250, reference)
    assert error.eval_loss_delta == pytest.approx(0.1)
    assert error.perplexity_ratio == pytest.approx(math.exp(0.1))
    assert error.footprint_ratio == 0.25
    better = quantization_error(1.9, 1000, reference)
    assert better.eval_loss_delta == pytest.approx(-0.1) and better.perplexity_ratio < 1


def test_reference_without_footprint_is_an_error():
    with pytest.raises(ValueError, match="footprint must be > 0"):
        quantization_error(1.0, 10, Fp32Reference(1.0, 0, "broken"))


def test_reference_is_computed_once_per_setup():
    cache = ReferenceCache()
    calls = []

    def compute():
        calls.append(1)
        return Fp32Reference(3.0, 100, "computed")

    assert cache.get_or_compute(KEY, compute).eval_loss == 3.0
    assert cache.get_or_compute(KEY, compute).eval_loss == 3.0
    assert len(calls) == 1
    # Another device (or model, data, batch...) is another reference: never mixed.
    cuda_key = dataclasses.replace(KEY, device="cuda")
    assert cache.get(cuda_key) is None
    cache.get_or_compute(cuda_key, compute)
    assert len(calls) == 2


def test_a_stored_fp32_measurement_wins_over_computing():
    cache = ReferenceCache()
    cache.store(KEY, Fp32Reference(2.5, 100, "measured by this fp32 case"))
    got = cache.get_or_compute(KEY, lambda: pytest.fail("must not recompute"))
    assert got.origin == "measured by this fp32 case"


def test_round_timer_falls_back_to_perf_counter():
    class Disabled:
        name = "pytest-benchmark"

        def __call__(self, fn, rounds, warmup_rounds):
            return None

    class Recorded:
        name = "recorded"

        def __call__(self, fn, rounds, warmup_rounds):
            return [0.5, 0.25, 0.75]

    stats, name = time_rounds(lambda: None, 2, 0, Disabled())
    assert name == "perf_counter" and stats.count == 2
    stats, name = time_rounds(lambda: None, 3, 0, Recorded())
    assert name == "recorded" and stats.median == 0.5 and stats.max == 0.75
    with pytest.raises(ValueError, match="rounds >= 1"):
        perf_counter_rounds(lambda: None, 0, 0)


def test_unquantized_model_under_a_bitsandbytes_precision_is_an_error():
    model = load_model(TINY_OPT)
    with pytest.raises(QuantizationLoadError, match="'tiny-opt-random' loaded as nf4 on cpu "
                                                    "has no layer that bitsandbytes quantized"):
        check_quantized(model, get_precision("nf4"), TINY_OPT, "cpu")
    assert check_quantized(model, get_precision("fp16"), TINY_OPT, "cpu") == 0


@pytest.fixture(scope="module")
def fp32_then_nf4():
    cache = ReferenceCache()
    fp32 = run_quant_benchmark(FAST, "fp32", "cpu", references=cache)
    nf4 = run_quant_benchmark(FAST, "nf4", "cpu", references=cache)
    return fp32, nf4


def test_runner_measures_every_metric(fp32_then_nf4):
    _, nf4 = fp32_then_nf4
    assert nf4.suite == "quant" and nf4.params["precision"] == "nf4"
    assert "precisions" not in nf4.params  # the matrix is not part of one benchmark's identity
    expected = {"footprint_bytes", "footprint_ratio_vs_fp32", "load_s", "eval_loss",
                "perplexity", "eval_loss_delta_vs_fp32", "forward_min_ms", "forward_tokens_per_s",
                "generate_min_s", "generate_tokens_per_s", "qlora_final_loss", "qlora_runtime_s",
                "qlora_tokens_per_s", "qlora_trainable_params", "qlora_peak_rss_mb"}
    assert expected <= set(nf4.metrics)
    assert all(m.is_finite for m in nf4.metrics.values())
    # the faster of the two loads (the evaluated model's, QLoRA's)
    assert nf4.metrics["load_s"].value == min(nf4.artifacts["loads_s"])
    assert len(nf4.artifacts["loads_s"]) == 2
    assert nf4.artifacts["precision"]["quantized_layers"] == 12  # 6 Linear layers x 2 blocks
    assert len(nf4.artifacts["qlora"]["loss_curve"]) == FAST.qlora_steps
    assert nf4.artifacts["inference"]["generate"]["new_tokens"] == FAST.generate_tokens


def test_delta_is_against_the_fp32_case_of_the_same_run(fp32_then_nf4):
    fp32, nf4 = fp32_then_nf4
    assert fp32.metrics["eval_loss_delta_vs_fp32"].value == 0.0
    assert fp32.metrics["footprint_ratio_vs_fp32"].value == 1.0
    assert nf4.artifacts["fp32_reference"]["origin"] == "measured by this fp32 case"
    assert nf4.artifacts["fp32_reference"]["eval_loss"] == fp32.metrics["eval_loss"].value
    delta = nf4.metrics["eval_loss"].value - fp32.metrics["eval_loss"].value
    assert nf4.metrics["eval_loss_delta_vs_fp32"].value == pytest.approx(delta)
    ratio = nf4.metrics["footprint_bytes"].value / fp32.metrics["footprint_bytes"].value
    assert nf4.metrics["footprint_ratio_vs_fp32"].value == pytest.approx(ratio)
    assert nf4.metrics["perplexity"].value == pytest.approx(
        math.exp(nf4.metrics["eval_loss"].value))


def test_a_precision_run_alone_computes_the_same_reference(fp32_then_nf4):
    _, nf4 = fp32_then_nf4
    alone = run_quant_benchmark(FAST, "nf4", "cpu", references=ReferenceCache())
    assert alone.artifacts["fp32_reference"]["origin"] == "fp32 loaded and evaluated for this case"
    # CPU evaluation is deterministic: the same reference, the same delta.
    assert alone.metrics["eval_loss_delta_vs_fp32"].value == pytest.approx(
        nf4.metrics["eval_loss_delta_vs_fp32"].value, abs=1e-6)
