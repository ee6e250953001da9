"""Weight footprints per precision, bitsandbytes' quantization state included.

The formats fix the bytes per weight of the layers bitsandbytes quantizes, so these orderings
hold by construction; what depends on the model's shape is spelled out where it matters.
"""

from __future__ import annotations

import pytest
from transformers import OPTConfig, OPTForCausalLM

from llmbench.sources.models import TINY_OPT, load_model
from llmbench.suites.quant import load_kwargs, weight_footprint

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "nf4", "fp4", "nf4-dq")


def footprints(spec: str) -> dict:
    result = {}
    for precision in PRECISIONS:
        model = load_model(spec, **load_kwargs(precision))
        result[precision] = (weight_footprint(model), model.get_memory_footprint())
    return result


@pytest.fixture(scope="module")
def tiny() -> dict:
    return footprints(TINY_OPT)


@pytest.fixture(scope="module")
def wider(tmp_path_factory) -> dict:
    """An OPT whose Linear layers hold 64K-256K weights each (tiny-opt-random's: 4K-16K)."""
    path = tmp_path_factory.mktemp("wide-opt")
    config = OPTConfig(vocab_size=384, hidden_size=256, ffn_dim=1024, num_hidden_layers=2,
                       num_attention_heads=4, max_position_embeddings=64,
                       word_embed_proj_dim=256)
    OPTForCausalLM(config).save_pretrained(path)
    return footprints(str(path))


def test_linear_weights_follow_the_formats(tiny):
    linear = {p: fp.linear_bytes for p, (fp, _) in tiny.items()}
    assert linear["fp32"] == 2 * linear["fp16"]
    assert linear["fp16"] == linear["bf16"]
    # int8: 1 byte per weight + float32 scale per row, so a bit over half of 16-bit.
    assert linear["fp16"] / 2 < linear["int8"] < linear["fp16"]
    # 4-bit: half a byte per weight + float32 scale per 64-weight block.
    assert linear["int8"] / 2 < linear["nf4"] < linear["int8"]
    assert linear["nf4"] == linear["fp4"]


def test_whole_model_ordering_on_tiny_opt(tiny):
    total = {p: fp.total_bytes for p, (fp, _) in tiny.items()}
    assert total["fp32"] == 2 * total["fp16"] == 2 * total["bf16"]
    assert total["fp32"] > total["int8"] > total["nf4"] == total["fp4"]
    # Layers bitsandbytes leaves alone stay the same for every quantized precision.
    others = {tiny[p][0].other_bytes for p in ("int8", "nf4", "fp4", "nf4-dq")}
    assert others == {tiny["fp32"][0].other_bytes}


def test_small_layers_make_double_quantization_larger(tiny):
    """nf4-dq saves 3 B per 64 weights but adds a 1 KiB table per layer: on tiny-opt-random's
    4K-16K-weight layers that is a net loss. And its float32 embeddings (positions included)
    outweigh half its Linear weights, so int8 is larger than fp16 here."""
    total = {p: fp.total_bytes for p, (fp, _) in tiny.items()}
    assert total["nf4-dq"] > total["nf4"]
    assert total["int8"] > total["fp16"]


def test_expected_relationships_hold_on_larger_layers(wider):
    """fp32 > bf16 = fp16 > int8 > nf4 = fp4 > nf4-dq for the whole model."""
    total = {p: fp.total_bytes for p, (fp, _) in wider.items()}
    assert total["fp32"] > total["fp16"] == total["bf16"] > total["int8"] > total["nf4"]
    assert total["nf4"] == total["fp4"] > total["nf4-dq"]


def test_counts_match_transformers_for_plain_dtypes(tiny):
    for precision in ("fp32", "fp16", "bf16"):
        ours, hf = tiny[precision]
        assert ours.total_bytes == hf


def test_quantization_state_is_counted_where_transformers_misses_it(tiny, wider):
    for table in (tiny, wider):
        for precision in ("int8", "nf4", "fp4", "nf4-dq"):
            ours, hf = table[precision]
            assert ours.total_bytes > hf, precision
        # transformers sees no difference between nf4 and nf4-dq at all.
        assert table["nf4"][1] == table["nf4-dq"][1]
        assert table["nf4"][0].total_bytes != table["nf4-dq"][0].total_bytes


def test_tied_weights_are_counted_once():
    model = load_model(TINY_OPT, **load_kwargs("fp32"))
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    params = sum(p.numel() * p.element_size() for p in model.parameters())  # deduplicated
    assert weight_footprint(model).total_bytes == params
