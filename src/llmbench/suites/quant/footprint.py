"""How many bytes a model's weights occupy, bitsandbytes quantization state included.

transformers' ``get_memory_footprint()`` counts parameters and buffers only. The scales that
bitsandbytes keeps beside the quantized weights (LLM.int8's per-row ``SCB``; 4-bit's block
``absmax``, its lookup table and, with double quantization, the nested scales and table) hang off
the weight tensors as attributes, so that method reports nf4 and nf4-dq as the same size. Here
every tensor is counted once (tied weights share storage), the quantization state included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Footprint:
    total_bytes: int
    # Weights of the layers bitsandbytes replaces (nn.Linear, lm_head aside) with their
    # quantization state: where the formats differ by construction.
    linear_bytes: int
    other_bytes: int  # embeddings, norms, biases, lm_head, buffers

    def to_dict(self) -> dict[str, int]:
        return {"total_bytes": self.total_bytes, "linear_bytes": self.linear_bytes,
                "other_bytes": self.other_bytes}


def _quant_state_tensors(param: torch.Tensor) -> Iterator[torch.Tensor]:
    """Tensors bitsandbytes attaches to a quantized weight (none for a plain tensor)."""
    state = getattr(param, "quant_state", None)  # Params4bit
    while state is not None:
        for name in ("absmax", "code", "offset"):
            value = getattr(state, name, None)
            if isinstance(value, torch.Tensor):
                yield value
        state = getattr(state, "state2", None)  # the nested state of double quantization
    for name in ("SCB", "CB"):  # Int8Params; CB may alias the weight itself (deduplicated)
        value = getattr(param, name, None)
        if isinstance(value, torch.Tensor):
            yield value


def _key(tensor: torch.Tensor) -> tuple[int, int, torch.dtype, str]:
    return (tensor.data_ptr(), tensor.numel(), tensor.dtype, str(tensor.device))


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _is_quantizable_linear(module: nn.Module) -> bool:
    # bitsandbytes' Linear8bitLt / Linear4bit subclass nn.Linear.
    return isinstance(module, nn.Linear)


def weight_footprint(model: nn.Module) -> Footprint:
    seen: set[tuple[int, int, torch.dtype, str]] = set()
    linear = other = 0
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    for module in model.modules():
        in_linear = _is_quantizable_linear(module) and module is not output
        for name, param in module.named_parameters(recurse=False):
            tensors = [param, *_quant_state_tensors(param)]
            for tensor in tensors:
                key = _key(tensor)
                if key in seen:
                    continue
                seen.add(key)
                if in_linear and name == "weight":
                    linear += _nbytes(tensor)
                else:
                    other += _nbytes(tensor)
        for buffer in module.buffers(recurse=False):
            key = _key(buffer)
            if key not in seen:
                seen.add(key)
                other += _nbytes(buffer)
    return Footprint(linear + other, linear, other)
