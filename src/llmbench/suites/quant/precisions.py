"""The precision table: one place that says how each precision id loads a model.

``fp32`` / ``fp16`` / ``bf16`` load the checkpoint in that dtype. ``int8`` (LLM.int8), ``nf4``,
``fp4`` and ``nf4-dq`` (nf4 with double quantization of the block scales) load through
transformers' ``BitsAndBytesConfig``: bitsandbytes replaces the ``nn.Linear`` layers (not the
embeddings, norms or ``lm_head``); everything it leaves alone is held in the profile's compute
dtype, the QLoRA recipe (float32 on CPU, bfloat16 on GPU).

Whether a precision can run here is a separate question (:func:`unavailable_reason`): the
benchmark skips with that reason instead of failing.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import torch

# transformers' own floor for its bitsandbytes integration (BITSANDBYTES_MIN_VERSION in 5.x).
BNB_MIN_VERSION = "0.46.1"
# CPU kernels for LLM.int8 and 4-bit ship in the regular wheel in the versions this project
# declares (pyproject: bitsandbytes>=0.48); measured working here on 0.50.2.
BNB_MIN_VERSION_CPU = "0.48.0"
# NVIDIA's minimum compute capability per bitsandbytes feature (bitsandbytes docs).
MIN_CUDA_CAPABILITY = {"int8": (7, 5), "4bit": (5, 0)}

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class UnknownPrecisionError(ValueError):
    """A precision id that is not in the table."""


class PrecisionUnavailable(RuntimeError):
    """This precision cannot run on this device / installation; ``reason`` says why."""

    def __init__(self, precision: str, device: str, reason: str) -> None:
        super().__init__(f"precision {precision!r} cannot run on {device}: {reason}")
        self.precision = precision
        self.device = device
        self.reason = reason


@dataclass(frozen=True)
class Precision:
    id: str
    description: str
    bits: float  # nominal storage bits per weight of the layers the precision changes
    dtype: str | None = None  # a plain dtype load
    bnb: dict[str, Any] = field(default_factory=dict)  # BitsAndBytesConfig kwargs

    @property
    def is_bitsandbytes(self) -> bool:
        return bool(self.bnb)

    @property
    def is_4bit(self) -> bool:
        return bool(self.bnb.get("load_in_4bit"))


PRECISIONS: dict[str, Precision] = {p.id: p for p in (
    Precision("fp32", "float32 weights (the reference)", 32, dtype="float32"),
    Precision("fp16", "float16 weights", 16, dtype="float16"),
    Precision("bf16", "bfloat16 weights", 16, dtype="bfloat16"),
    Precision("int8", "LLM.int8: int8 Linear weights, per-row scales", 8,
              bnb={"load_in_8bit": True}),
    Precision("nf4", "4-bit NormalFloat Linear weights, float32 block scales", 4,
              bnb={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}),
    Precision("fp4", "4-bit float Linear weights, float32 block scales", 4,
              bnb={"load_in_4bit": True, "bnb_4bit_quant_type": "fp4"}),
    Precision("nf4-dq", "nf4 with double quantization (8-bit block scales)", 4,
              bnb={"load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                   "bnb_4bit_use_double_quant": True}),
)}


def get_precision(precision_id: str) -> Precision:
    try:
        return PRECISIONS[precision_id]
    except (KeyError, TypeError):
        raise UnknownPrecisionError(
            f"unknown precision {precision_id!r}; valid: {', '.join(PRECISIONS)}") from None


def torch_dtype(name: str) -> torch.dtype:
    try:
        return TORCH_DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown compute dtype {name!r} (QuantSettings.compute_dtype); "
                         f"valid: {', '.join(TORCH_DTYPES)}") from None


def load_kwargs(precision_id: str, compute_dtype: str = "float32") -> dict[str, Any]:
    """Keyword arguments for ``load_model`` / ``from_pretrained`` that give this precision."""
    precision = get_precision(precision_id)
    compute = torch_dtype(compute_dtype)
    if not precision.is_bitsandbytes:
        return {"dtype": TORCH_DTYPES[precision.dtype]}
    from transformers import BitsAndBytesConfig

    options = dict(precision.bnb)
    if precision.is_4bit:
        options["bnb_4bit_compute_dtype"] = compute
    return {"dtype": compute, "quantization_config": BitsAndBytesConfig(**options)}


def activation_dtype(precision_id: str, compute_dtype: str = "float32") -> torch.dtype:
    """The dtype a model loaded at this precision computes in: its own for a plain load, the
    compute dtype for bitsandbytes (its layers dequantize to it)."""
    precision = get_precision(precision_id)
    return torch_dtype(compute_dtype if precision.is_bitsandbytes else precision.dtype)


@dataclass(frozen=True)
class BitsAndBytesStatus:
    """What this installation offers: ``version`` is None when bitsandbytes is missing."""

    version: str | None
    devices: frozenset[str] = frozenset()
    import_error: str | None = None


def probe_bitsandbytes() -> BitsAndBytesStatus:
    try:
        version = importlib.metadata.version("bitsandbytes")
    except importlib.metadata.PackageNotFoundError:
        return BitsAndBytesStatus(None)
    try:
        import bitsandbytes
    except Exception as exc:  # a broken native library raises all kinds of errors
        return BitsAndBytesStatus(version, import_error=f"{type(exc).__name__}: {exc}")
    return BitsAndBytesStatus(version, frozenset(getattr(bitsandbytes, "supported_torch_devices",
                                                         {"cuda"})))


def _version_tuple(version: str) -> tuple[int, ...]:
    from packaging.version import Version

    return Version(version).release


def _device_type(device: str) -> str:
    return torch.device(device).type


def unavailable_reason(precision_id: str, device: str, compute_dtype: str = "float32", *,
                       bnb: BitsAndBytesStatus | None = None,
                       cuda_available: bool | None = None,
                       cuda_capability: tuple[int, int] | None = None,
                       cuda_bf16: bool | None = None) -> str | None:
    """Why ``precision_id`` cannot run on ``device``, or None when it can.

    The keyword arguments stand in for the probes of this machine (tests pass fakes).
    """
    precision = get_precision(precision_id)
    kind = _device_type(device)
    needs_bf16 = precision.dtype == "bfloat16" or (
        precision.is_bitsandbytes and torch_dtype(compute_dtype) is torch.bfloat16)
    if kind == "cuda":
        if cuda_available is None:
            cuda_available = torch.cuda.is_available()
        if not cuda_available:
            return "CUDA is not available (torch.cuda.is_available() is False)"
        if cuda_bf16 is None:
            cuda_bf16 = torch.cuda.is_bf16_supported()
        if needs_bf16 and not cuda_bf16:
            return "this GPU does not support bfloat16 (torch.cuda.is_bf16_supported() is False)"
    if not precision.is_bitsandbytes:
        return None

    bnb = bnb if bnb is not None else probe_bitsandbytes()
    needed = BNB_MIN_VERSION_CPU if kind == "cpu" else BNB_MIN_VERSION
    if bnb.version is None:
        return f"bitsandbytes is not installed (pip install 'bitsandbytes>={needed}')"
    if _version_tuple(bnb.version) < _version_tuple(needed):
        return (f"bitsandbytes {bnb.version} is too old for {precision_id} on {kind}; "
                f"needs >= {needed} (pip install -U 'bitsandbytes>={needed}')")
    if bnb.import_error:
        return f"bitsandbytes {bnb.version} fails to import: {bnb.import_error}"
    if kind not in bnb.devices:
        return (f"bitsandbytes {bnb.version} has no backend for {kind!r} "
                f"(supported: {', '.join(sorted(bnb.devices)) or 'none'})")
    if kind == "cuda":
        if cuda_capability is None:
            cuda_capability = torch.cuda.get_device_capability(torch.device(device))
        feature = "4bit" if precision.is_4bit else "int8"
        need = MIN_CUDA_CAPABILITY[feature]
        if tuple(cuda_capability) < need:
            return (f"{precision_id} needs CUDA compute capability >= {need[0]}.{need[1]}, "
                    f"this GPU has {cuda_capability[0]}.{cuda_capability[1]}")
    return None


def require_available(precision_id: str, device: str, compute_dtype: str = "float32") -> None:
    reason = unavailable_reason(precision_id, device, compute_dtype)
    if reason is not None:
        raise PrecisionUnavailable(precision_id, device, reason)
