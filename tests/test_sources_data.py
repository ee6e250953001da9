import importlib.util
import json

import datasets
import huggingface_hub.constants
import pytest

from llmbench.sources import data
from llmbench.sources.data import (
    IGNORE_INDEX,
    DatasetFormatError,
    Example,
    TokenizedExample,
    UnknownDatasetError,
    collate,
    format_prompt,
    load_instruction_data,
    read_jsonl,
    tokenize_example,
    tokenize_examples,
)
from llmbench.sources.models import HubUnreachableError, load_tokenizer

EXAMPLE = Example("Reverse the string.", "abc", "cba")


@pytest.fixture(scope="module")
def byte_tokenizer():
    return load_tokenizer("tiny-opt-random")


def test_fixture_dataset_sizes_and_schema():
    loaded = load_instruction_data("fixtures:codealpaca")
    assert len(loaded.train) >= 300 and len(loaded.held_out) >= 50
    train_keys = {(e.instruction, e.input) for e in loaded.train}
    assert not train_keys & {(e.instruction, e.input) for e in loaded.held_out}


def test_fixture_files_are_what_the_generator_writes():
    path = data.fixtures_root() / "codealpaca" / "generate.py"
    spec = importlib.util.spec_from_file_location("codealpaca_generate", path)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.main(["--check"]) == 0


def test_fraction_takes_a_prefix_of_the_training_split():
    full = load_instruction_data("fixtures:codealpaca")
    half = load_instruction_data("fixtures:codealpaca", fraction=0.5)
    assert half.train == full.train[:len(full.train) // 2]
    assert half.held_out == full.held_out


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        load_instruction_data("fixtures:codealpaca", fraction=fraction)


@pytest.mark.parametrize("spec", ["codealpaca", "fixtures:nope", "fixtures:", "a/b/c"])
def test_unknown_dataset_spec(spec):
    with pytest.raises(UnknownDatasetError) as err:
        load_instruction_data(spec)
    assert "fixtures:codealpaca" in str(err.value)


def test_unreachable_hub_dataset_names_the_offline_source(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError, match="fixtures:codealpaca"):
        load_instruction_data("sahil2801/CodeAlpaca-20k", fraction=0.5)


@pytest.mark.parametrize("line, problem", [
    ('{"instruction": "x", "input": ""', "not valid JSON"),
    ('["instruction", "input", "output"]', "expected a JSON object"),
    ('{"instruction": "x", "input": ""}', "missing field 'output'"),
    ('{"instruction": "x", "input": 3, "output": "y"}', "field 'input' must be a string"),
    ('{"instruction": "x", "input": "", "output": "  "}', "field 'output' is empty"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, problem):
    good = json.dumps({"instruction": "a", "input": "", "output": "b"})
    path = tmp_path / "train.jsonl"
    path.write_text(f"{good}\n\n{line}\n{good}\n")
    with pytest.raises(DatasetFormatError) as err:
        read_jsonl(path)
    assert f"{path}:3" in str(err.value) and problem in str(err.value)


def test_blank_lines_are_skipped_and_empty_files_rejected(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('\n{"instruction": "a", "input": "", "output": "b"}\n\n')
    assert read_jsonl(path) == [Example("a", "", "b")]
    path.write_text("\n")
    with pytest.raises(DatasetFormatError, match="no examples"):
        read_jsonl(path)


def test_prompt_layout():
    assert format_prompt(EXAMPLE) == (
        "### Instruction:\nReverse the string.\n\n### Input:\nabc\n\n### Response:\n")
    assert "### Input" not in format_prompt(Example("Say hi.", "", "hi"))


def test_loss_is_on_the_response_only(byte_tokenizer):
    tokenized = tokenize_example(EXAMPLE, byte_tokenizer, max_length=512)
    prompt_length = len(format_prompt(EXAMPLE).encode())  # one token per byte
    assert tokenized.labels[:prompt_length] == [IGNORE_INDEX] * prompt_length
    response = tokenized.labels[prompt_length:]
    assert byte_tokenizer.decode(response) == "cba</s>"
    assert response == tokenized.input_ids[prompt_length:]


def test_whole_sequence_option(byte_tokenizer):
    tokenized = tokenize_example(EXAMPLE, byte_tokenizer, max_length=512, response_only=False)
    assert tokenized.labels == tokenized.input_ids
    assert byte_tokenizer.decode(tokenized.input_ids) == format_prompt(EXAMPLE) + "cba</s>"


def test_truncation_and_dropping(byte_tokenizer):
    prompt_length = len(format_prompt(EXAMPLE).encode())
    cut = tokenize_example(EXAMPLE, byte_tokenizer, max_length=prompt_length + 2)
    assert len(cut.input_ids) == prompt_length + 2 and cut.supervised_tokens == 2
    long_prompt = Example("x" * 500, "", "y")
    kept = tokenize_examples([EXAMPLE, long_prompt], byte_tokenizer, max_length=100)
    assert len(kept) == 1
    with pytest.raises(ValueError, match="seq_len 10 is too short"):
        tokenize_examples([EXAMPLE], byte_tokenizer, max_length=10)


class BosTokenizer:
    """Mimics OPT's GPT-2 tokenizer: one token per character, BOS (id 2) in front."""

    eos_token_id = 2

    def __call__(self, text, add_special_tokens=True):
        ids = [ord(ch) for ch in text]
        return {"input_ids": ([2] if add_special_tokens else []) + ids}


def test_bos_prefix_is_kept_and_masked():
    tokenized = tokenize_example(Example("i", "", "o"), BosTokenizer(), max_length=100)
    assert tokenized.input_ids[0] == 2 and tokenized.input_ids[1] == ord("#")
    assert tokenized.input_ids[-2:] == [ord("o"), 2]
    assert tokenized.supervised_tokens == 2


def test_collate_pads_right_and_masks_padding():
    batch = collate([TokenizedExample([5, 6, 7], [IGNORE_INDEX, 6, 7]),
                     TokenizedExample([8], [8])], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
