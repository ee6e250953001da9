"""Quantization precision benchmarks: how much memory each precision saves, what it costs.

* ``precisions`` -- the table of precision ids and how each loads; availability checks.
* ``footprint`` -- bytes of the weights, bitsandbytes' quantization state included.
* ``reference`` -- the fp32 reference and the quantization error against it.
* ``qlora`` -- QLoRA on a loaded model (float16 on CUDA: autocast + loss scaling).
* ``runner`` -- ``run_quant_benchmark(settings, precision, device)`` -> ``Result``.
"""

from llmbench.suites.quant.footprint import Footprint, weight_footprint
from llmbench.suites.quant.precisions import (
    PRECISIONS,
    Precision,
    PrecisionUnavailable,
    UnknownPrecisionError,
    get_precision,
    load_kwargs,
    unavailable_reason,
)
from llmbench.suites.quant.runner import QuantizationLoadError, run_quant_benchmark

__all__ = [
    "PRECISIONS",
    "Footprint",
    "Precision",
    "PrecisionUnavailable",
    "QuantizationLoadError",
    "UnknownPrecisionError",
    "get_precision",
    "load_kwargs",
    "run_quant_benchmark",
    "unavailable_reason",
    "weight_footprint",
]
