"""Local generators: batching with left padding, token counts, specs. One test runs SmolLM2."""

from __future__ import annotations

import pytest

from llmbench.suites.rag.generators import (
    LocalGenerator,
    OpenAIGenerator,
    UnknownGeneratorError,
    build_generator,
)
from llmbench.suites.rag.prompts import answer_messages

PROMPTS = [
    [{"role": "user", "content": "Question: What colour are the lanyards?"}],
    [{"role": "system", "content": "Reply briefly."},
     {"role": "user", "content": "Question: When is fish soup served in the canteen at lunch?"}],
    [{"role": "user", "content": "Hi"}],
]


@pytest.fixture(scope="module")
def tiny():
    return build_generator("hf:tiny-opt-random")


def test_hf_spec_loads_any_model_that_sources_knows(tiny):
    assert isinstance(tiny, LocalGenerator)
    assert tiny.spec == "hf:tiny-opt-random"
    assert not tiny.has_chat_template  # byte tokenizer: plain-text prompt
    assert tiny.render(PROMPTS[1]).endswith("lunch?\n\nAnswer:")


def test_batched_generation_with_left_padding_matches_one_by_one(tiny):
    one_by_one = tiny.generate(PROMPTS, max_new_tokens=6, batch_size=1)
    batched = tiny.generate(PROMPTS, max_new_tokens=6, batch_size=3)
    assert [c.text for c in batched] == [c.text for c in one_by_one]
    assert [c.completion_tokens for c in batched] == [c.completion_tokens for c in one_by_one]
    assert tiny.tokenizer.padding_side == "left"


def test_token_counts_come_from_the_tokenizer(tiny):
    completions = tiny.generate(PROMPTS, max_new_tokens=5, batch_size=2)
    for messages, completion in zip(PROMPTS, completions):
        expected = len(tiny.tokenizer(tiny.render(messages))["input_ids"])
        assert completion.prompt_tokens == expected  # padding is not counted
        assert 1 <= completion.completion_tokens <= 5


def test_a_batch_shares_its_wall_time(tiny):
    completions = tiny.generate(PROMPTS, max_new_tokens=3, batch_size=2)
    assert completions[0].seconds == completions[1].seconds
    assert completions[2].seconds > 0


def test_completion_length_stops_at_the_first_eos(tiny):
    eos = next(iter(tiny.eos_ids))
    assert tiny._completion_length([5, 6, eos, eos, eos]) == 3
    assert tiny._completion_length([5, 6, 7]) == 3


def test_batch_size_must_be_positive(tiny):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        tiny.generate(PROMPTS, max_new_tokens=2, batch_size=0)


@pytest.mark.parametrize("spec", ["", "gpt-4o", "hf:", "openai:", "smollm2"])
def test_unknown_specs_list_the_valid_forms(spec):
    with pytest.raises(UnknownGeneratorError, match=r"smollm2-135m, hf:<model id or path>, "
                                                    r"openai:<model>"):
        build_generator(spec)


def test_missing_local_model_directory_is_named(tmp_path):
    with pytest.raises(UnknownGeneratorError, match="generator 'hf:.*nope'.*does not exist"):
        build_generator(f"hf:{tmp_path / 'nope'}")


def test_openai_spec_builds_the_openai_generator(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    generator = build_generator("openai:gpt-4o-mini")
    assert isinstance(generator, OpenAIGenerator)
    assert generator.model == "gpt-4o-mini"


def test_smollm2_answers_from_the_context_with_its_chat_template():
    from llmbench.suites.rag.data import Passage

    generator = build_generator("smollm2-135m")
    assert generator.has_chat_template
    messages = answer_messages("What colour lanyards do visitors wear?", [
        Passage("lanyards", "lanyards", "Visitors wear red lanyards. Staff wear blue ones.")])
    [completion] = generator.generate([messages], max_new_tokens=12)
    assert "red" in completion.text.lower()
    rendered = generator.render(messages)
    assert rendered.startswith("<|im_start|>system")
    assert completion.prompt_tokens == len(
        generator.tokenizer(rendered, add_special_tokens=False)["input_ids"])
