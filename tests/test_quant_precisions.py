"""The precision table, its load arguments, and when a precision is unavailable."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import BitsAndBytesConfig

from llmbench.profiles import ALL_PRECISIONS, PROFILES, QuantSettings
from llmbench.suites.quant import precisions as prec
from llmbench.suites.quant.precisions import (
    BitsAndBytesStatus,
    PrecisionUnavailable,
    UnknownPrecisionError,
    get_precision,
    load_kwargs,
    unavailable_reason,
)

BNB_OK = BitsAndBytesStatus("0.50.2", frozenset({"cpu", "cuda"}))


def test_table_has_exactly_the_profile_precisions_in_order():
    assert tuple(prec.PRECISIONS) == ALL_PRECISIONS
    assert [p.id for p in prec.PRECISIONS.values()] == list(ALL_PRECISIONS)


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("fp16", torch.float16),
                                              ("bf16", torch.bfloat16)])
def test_plain_precisions_load_in_their_dtype(precision, dtype):
    assert load_kwargs(precision) == {"dtype": dtype}


def test_int8_is_llm_int8_and_keeps_the_rest_in_the_compute_dtype():
    kwargs = load_kwargs("int8", "bfloat16")
    config = kwargs["quantization_config"]
    assert isinstance(config, BitsAndBytesConfig)
    assert config.load_in_8bit and not config.load_in_4bit
    assert kwargs["dtype"] is torch.bfloat16


@pytest.mark.parametrize("precision, quant_type, double", [("nf4", "nf4", False),
                                                           ("fp4", "fp4", False),
                                                           ("nf4-dq", "nf4", True)])
def test_4bit_configs(precision, quant_type, double):
    kwargs = load_kwargs(precision, "bfloat16")
    config = kwargs["quantization_config"]
    assert config.load_in_4bit and not config.load_in_8bit
    assert config.bnb_4bit_quant_type == quant_type
    assert config.bnb_4bit_use_double_quant is double
    assert config.bnb_4bit_compute_dtype is torch.bfloat16
    assert kwargs["dtype"] is torch.bfloat16


def test_unknown_precision_lists_the_valid_ones():
    with pytest.raises(UnknownPrecisionError, match="'int4'.*valid: fp32, fp16, bf16, int8, nf4, "
                                                    "fp4, nf4-dq"):
        get_precision("int4")
    with pytest.raises(UnknownPrecisionError):
        load_kwargs("fp8")
    with pytest.raises(UnknownPrecisionError):
        unavailable_reason("q4_k_m", "cpu")


def test_unknown_compute_dtype_names_the_setting():
    with pytest.raises(ValueError, match="QuantSettings.compute_dtype.*float32, float16, bfloat16"):
        load_kwargs("nf4", "float8")


def test_profile_with_an_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match=r"QuantSettings.precisions.*\['int4'\].*valid: fp32"):
        QuantSettings(model="tiny-opt-random", precisions=("fp32", "int4"))
    with pytest.raises(ValueError, match="QuantSettings.latency_rounds must be >= 1"):
        QuantSettings(model="tiny-opt-random", latency_rounds=0)


def test_every_profile_uses_known_precisions_and_dtypes():
    for profile in PROFILES.values():
        for precision in profile.quant.precisions:
            load_kwargs(precision, profile.quant.compute_dtype)


def test_everything_runs_on_cpu_with_a_recent_bitsandbytes():
    for precision in ALL_PRECISIONS:
        assert unavailable_reason(precision, "cpu", bnb=BNB_OK) is None


def test_missing_bitsandbytes_skips_only_its_precisions_and_names_the_version():
    missing = BitsAndBytesStatus(None)
    for precision in ("fp32", "fp16", "bf16"):
        assert unavailable_reason(precision, "cpu", bnb=missing) is None
    reason = unavailable_reason("nf4", "cpu", bnb=missing)
    assert "not installed" in reason and f">={prec.BNB_MIN_VERSION_CPU}" in reason


def test_old_bitsandbytes_names_the_needed_version_per_device():
    old = BitsAndBytesStatus("0.47.0", frozenset({"cpu", "cuda"}))
    reason = unavailable_reason("int8", "cpu", bnb=old)
    assert "0.47.0 is too old" in reason and prec.BNB_MIN_VERSION_CPU in reason
    # The CUDA floor is lower: 0.47 is enough there.
    assert unavailable_reason("int8", "cuda", bnb=old, cuda_capability=(9, 0),
                              cuda_bf16=True, cuda_available=True) is None
    older = BitsAndBytesStatus("0.45.5", frozenset({"cuda"}))
    assert prec.BNB_MIN_VERSION in unavailable_reason("nf4", "cuda", bnb=older,
                                                      cuda_available=True)


def test_broken_bitsandbytes_import_is_a_reason():
    broken = BitsAndBytesStatus("0.50.2", import_error="OSError: libbitsandbytes_cpu.so")
    assert "fails to import: OSError" in unavailable_reason("fp4", "cpu", bnb=broken)


def test_device_without_a_bitsandbytes_backend():
    cuda_only = BitsAndBytesStatus("0.50.2", frozenset({"cuda"}))
    reason = unavailable_reason("nf4-dq", "cpu", bnb=cuda_only)
    assert "no backend for 'cpu'" in reason and "supported: cuda" in reason


def test_gpu_capabilities():
    kwargs = {"bnb": BNB_OK, "cuda_available": True, "cuda_bf16": True}
    # LLM.int8 needs Turing (7.5); 4-bit runs from Maxwell (5.0).
    assert "7.5" in unavailable_reason("int8", "cuda", cuda_capability=(7, 0), **kwargs)
    assert unavailable_reason("nf4", "cuda", cuda_capability=(7, 0), **kwargs) is None
    assert "5.0" in unavailable_reason("fp4", "cuda", cuda_capability=(3, 7), **kwargs)


def test_bf16_without_gpu_support_is_skipped_with_the_reason():
    kwargs = {"bnb": BNB_OK, "cuda_available": True, "cuda_bf16": False,
              "cuda_capability": (7, 0)}
    assert "bfloat16" in unavailable_reason("bf16", "cuda", **kwargs)
    assert unavailable_reason("fp16", "cuda", **kwargs) is None
    # A 4-bit precision computing in bfloat16 needs it too.
    assert "bfloat16" in unavailable_reason("nf4", "cuda", "bfloat16", **kwargs)
    assert unavailable_reason("nf4", "cuda", "float16", **kwargs) is None


def test_cuda_precision_without_cuda():
    reason = unavailable_reason("fp32", "cuda", cuda_available=False)
    assert "CUDA is not available" in reason


def test_runner_raises_unavailable_before_loading_anything(monkeypatch):
    from llmbench.suites.quant import run_quant_benchmark

    settings = dataclasses.replace(PROFILES["smoke"].quant, model="no-such-model")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # on a GPU machine too
    with pytest.raises(PrecisionUnavailable) as info:
        run_quant_benchmark(settings, "nf4", "cuda")
    assert info.value.precision == "nf4" and "CUDA is not available" in info.value.reason
