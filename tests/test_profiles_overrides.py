"""Command-line overrides of the matrix axes, and config-hash stability across spellings."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from llmbench.profiles import PROFILES, Overrides, project_registry
from llmbench.regression.baselines import config_hash
from llmbench.suites.lora.runner import benchmark_params as lora_params
from llmbench.suites.quant.runner import benchmark_params as quant_params

EMBEDDED = PROFILES["embedded"]


def test_lora_ranks_override_is_parsed_deduplicated_and_sorted():
    overrides = Overrides.parse(lora_ranks=" 64, 8,8 ")
    assert overrides.lora_ranks == (8, 64)
    profile = overrides.apply(EMBEDDED)
    assert profile.lora == dataclasses.replace(EMBEDDED.lora, ranks=(8, 64))
    assert profile.quant == EMBEDDED.quant and profile.rag == EMBEDDED.rag
    assert profile.name == "embedded"  # same baselines: the axis only selects cases


def test_precisions_override_keeps_fp32_first():
    profile = Overrides.parse(precisions="nf4,bf16,fp32").apply(EMBEDDED)
    assert profile.quant.precisions == ("fp32", "bf16", "nf4")
    assert profile.lora == EMBEDDED.lora


def test_rag_generators_override_keeps_the_given_order():
    profile = Overrides.parse(
        rag_generators="openai:gpt-4o,smollm2-135m,hf:tiny-opt-random,openai:gpt-4o"
    ).apply(EMBEDDED)
    assert profile.rag.generators == ("openai:gpt-4o", "smollm2-135m", "hf:tiny-opt-random")
    assert profile.rag.retrievers == EMBEDDED.rag.retrievers


def test_rag_retrievers_override():
    profile = Overrides.parse(rag_retrievers="dense,bm25").apply(EMBEDDED)
    assert profile.rag.retrievers == ("dense", "bm25")
    assert profile.rag.generators == EMBEDDED.rag.generators


def test_no_overrides_leave_the_profile_as_it_is():
    assert Overrides.parse().apply(EMBEDDED) == EMBEDDED


def test_steps_override_changes_both_suites():
    profile = Overrides.parse(steps=3).apply(EMBEDDED)
    assert profile.lora.steps == 3 and profile.quant.qlora_steps == 3


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"lora_ranks": "8,x"}, ["--lora-ranks", "'x'", "positive integers"]),
    ({"lora_ranks": "0"}, ["--lora-ranks", "'0'"]),
    ({"lora_ranks": "8,,64"}, ["--lora-ranks", "empty items"]),
    ({"precisions": "nf4,nf5"}, ["--precisions", "'nf5'", "fp32, fp16, bf16, int8, nf4, fp4, "
                                                          "nf4-dq"]),
    ({"precisions": ""}, ["--precisions", "empty"]),
    ({"rag_generators": "gpt-4o"}, ["--rag-generators", "'gpt-4o'",
                                    "smollm2-135m, hf:<model id or path>, openai:<model>"]),
    ({"rag_generators": "openai:"}, ["--rag-generators", "'openai:'"]),
    ({"rag_retrievers": "bm25,colbert"}, ["--rag-retrievers", "'colbert'",
                                          "none, dense, bm25, ensemble, multi-query"]),
    ({"steps": 0}, ["--bench-steps must be >= 1"]),
])
def test_bad_override_names_the_option_and_the_valid_choices(kwargs, expected):
    with pytest.raises(ValueError) as info:
        Overrides.parse(**kwargs)
    for part in expected:
        assert part in str(info.value)


# --- hash stability: same resolved settings -> same config hash ---------------------------------

def lora_hash(profile, rank):
    return config_hash("lora", lora_params(profile.lora, rank))


def quant_hash(profile, precision):
    return config_hash("quant", quant_params(profile.quant, precision))


def test_axis_overrides_do_not_change_the_hash_of_the_cases_they_keep():
    for spelling in ("8,64", "64,8", " 8 , 64 , 8"):
        profile = Overrides.parse(lora_ranks=spelling).apply(EMBEDDED)
        assert lora_hash(profile, 8) == lora_hash(EMBEDDED, 8)
    for spelling in ("nf4,bf16", "bf16,nf4"):
        profile = Overrides.parse(precisions=spelling).apply(EMBEDDED)
        assert quant_hash(profile, "nf4") == quant_hash(EMBEDDED, "nf4")


def test_a_user_profile_with_the_same_resolved_settings_has_the_same_hash(tmp_path):
    # Spelled differently from builtin.py: ints for floats, lists for tuples, another order.
    (tmp_path / "llmbench.toml").write_text(textwrap.dedent("""
        [profiles.same]
        extends = "embedded"
        [profiles.same.lora]
        lr = 0.0003
        dataset_fraction = 1
        ranks = [256, 8, 128]
        target_modules = ["q_proj", "k_proj", "v_proj"]
        [profiles.same.quant]
        lr = 0.0002
        precisions = ["nf4-dq", "fp32", "fp16", "bf16", "int8", "nf4", "fp4"]

        [profiles.complete]
        [profiles.complete.lora]
        model = "smollm2-135m"
        seq_len = 128
        steps = 12
        lr = 3e-4
        final_loss_window = 4
        settle_threshold = 0.8
        comparison_steps = 5
        [profiles.complete.quant]
        model = "smollm2-135m"
        eval_examples = 8
        qlora_steps = 3
        slow_cpu_qlora_steps = 1
        latency_rounds = 3
        [profiles.complete.rag]
        questions = 12
        chunk_chars = 350

        [profiles.other]
        extends = "embedded"
        [profiles.other.lora]
        lr = 0.001
        """))
    registry = project_registry(tmp_path)
    for name in ("same", "complete"):
        profile = registry.get(name)
        assert (profile.lora, profile.quant, profile.rag) == (EMBEDDED.lora, EMBEDDED.quant,
                                                             EMBEDDED.rag)
        for rank in EMBEDDED.lora.ranks:
            assert lora_hash(profile, rank) == lora_hash(EMBEDDED, rank)
        for precision in EMBEDDED.quant.precisions:
            assert quant_hash(profile, precision) == quant_hash(EMBEDDED, precision)
    # a setting that does change: the hash follows it
    assert lora_hash(registry.get("other"), 8) != lora_hash(EMBEDDED, 8)
    assert lora_hash(Overrides.parse(steps=5).apply(EMBEDDED), 8) != lora_hash(EMBEDDED, 8)
