"""The fp32 reference that every precision's quantization error is measured against.

"Like with like": the reference is the same model loaded in float32 on the same device and
evaluated on the same tokenized held-out batches, in the same process. The ``fp32`` case stores
its own measurement here; a later precision of the same setup reuses it, and a precision that
runs without the fp32 case (``-k nf4``) computes it first, outside its own measurements.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ReferenceKey:
    """Everything the fp32 eval loss depends on."""

    model: str
    dataset: str
    seq_len: int
    batch_size: int
    eval_examples: int
    device: str
    seed: int = 0  # picks the held-out split


@dataclass(frozen=True)
class Fp32Reference:
    eval_loss: float
    footprint_bytes: int
    origin: str  # how it was obtained, for the report

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReferenceCache:
    """fp32 references of this process, one per :class:`ReferenceKey`."""

    def __init__(self) -> None:
        self._entries: dict[ReferenceKey, Fp32Reference] = {}

    def store(self, key: ReferenceKey, reference: Fp32Reference) -> None:
        self._entries[key] = reference

    def get(self, key: ReferenceKey) -> Fp32Reference | None:
        return self._entries.get(key)

    def get_or_compute(self, key: ReferenceKey,
                       compute: Callable[[], Fp32Reference]) -> Fp32Reference:
        if key not in self._entries:
            self._entries[key] = compute()
        return self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class QuantizationError:
    """How far a precision's eval loss and footprint are from fp32's."""

    eval_loss_delta: float  # precision minus fp32, in nats per token; > 0 = worse than fp32
    perplexity_ratio: float  # exp(delta)
    footprint_ratio: float  # precision bytes / fp32 bytes

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def quantization_error(eval_loss: float, footprint_bytes: int,
                       reference: Fp32Reference) -> QuantizationError:
    if reference.footprint_bytes <= 0:
        raise ValueError(f"fp32 reference footprint must be > 0, got {reference.footprint_bytes}")
    delta = eval_loss - reference.eval_loss
    return QuantizationError(eval_loss_delta=delta, perplexity_ratio=math.exp(delta),
                             footprint_ratio=footprint_bytes / reference.footprint_bytes)
