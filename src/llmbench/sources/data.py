"""Instruction datasets in CodeAlpaca's schema (``instruction``, ``input``, ``output``).

Specs:

* ``fixtures:codealpaca`` -- the project's own data, ``fixtures/codealpaca/{train,eval}.jsonl``
  (written by ``fixtures/codealpaca/generate.py``). ``fixtures:NAME`` reads any directory under
  ``fixtures/`` with those two files.
* a hub dataset id such as ``sahil2801/CodeAlpaca-20k``, loaded with ``datasets`` when the hub is
  reachable; a fixed number of held-out examples is set aside first, then ``fraction`` of the rest
  is used for training (the original experiment used 0.5).

Then: Alpaca-style prompt formatting, tokenization with truncation, and labels that are ``-100``
on the prompt so the loss covers the response only (or the whole sequence, if asked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from llmbench.core.fixtures import fixtures_root
from llmbench.core.jsonl import JsonlError
from llmbench.core.jsonl import read_jsonl as read_lines
from llmbench.core.specs import FIXTURES_PREFIX
from llmbench.sources.models import HubUnreachableError

FIXTURE_PREFIX = FIXTURES_PREFIX
FIELDS = ("instruction", "input", "output")
IGNORE_INDEX = -100  # label value that torch's cross-entropy skips
HUB_HELD_OUT_SIZE = 200


class UnknownDatasetError(ValueError):
    pass


class DatasetFormatError(ValueError):
    """A dataset file or row does not follow the instruction schema."""


@dataclass(frozen=True)
class Example:
    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class InstructionData:
    spec: str
    train: list[Example]
    held_out: list[Example]


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where no loss is taken

    @property
    def supervised_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def _example_from_row(row: Any, where: str) -> Example:
    if not isinstance(row, dict):
        raise DatasetFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name in FIELDS:
        if name not in row:
            raise DatasetFormatError(f"{where}: missing field {name!r}")
        if not isinstance(row[name], str):
            raise DatasetFormatError(
                f"{where}: field {name!r} must be a string, got {type(row[name]).__name__}")
    for name in ("instruction", "output"):
        if not row[name].strip():
            raise DatasetFormatError(f"{where}: field {name!r} is empty")
    return Example(row["instruction"], row["input"], row["output"])


def read_jsonl(path: str | Path) -> list[Example]:
    """Read one example per line; every bad line is reported with its file and line."""
    try:
        return read_lines(path, lambda row, lineno: _example_from_row(row, f"line {lineno}"),
                          what="dataset file", noun="examples")
    except JsonlError as exc:
        raise DatasetFormatError(str(exc)) from None


def _check_fraction(fraction: float) -> None:
    if not 0 < fraction <= 1:
        raise ValueError(f"dataset fraction must be in (0, 1], got {fraction}")


def _take_fraction(examples: list[Any], fraction: float) -> list[Any]:
    return examples[: max(1, math.ceil(len(examples) * fraction))]


def load_instruction_data(spec: str, *, fraction: float = 1.0, seed: int = 0) -> InstructionData:
    """Load ``spec`` as train and held-out examples (fixture files keep their order)."""
    _check_fraction(fraction)
    if spec.startswith(FIXTURE_PREFIX):
        return _load_fixture(spec, fraction)
    if len(spec.split("/")) == 2 and all(spec.split("/")):
        return _load_hub(spec, fraction, seed)
    raise UnknownDatasetError(
        f"unknown dataset spec {spec!r}: use 'fixtures:NAME' (e.g. fixtures:codealpaca, from "
        f"{fixtures_root()}) or a hub dataset id 'owner/name' (e.g. sahil2801/CodeAlpaca-20k)"
    )


def _load_fixture(spec: str, fraction: float) -> InstructionData:
    name = spec[len(FIXTURE_PREFIX):]
    directory = fixtures_root() / name
    if not name or not (directory / "train.jsonl").is_file():
        available = sorted(p.parent.name for p in fixtures_root().glob("*/train.jsonl"))
        raise UnknownDatasetError(
            f"unknown fixture dataset {spec!r}: no {directory}/train.jsonl; "
            f"available: {', '.join(FIXTURE_PREFIX + a for a in available) or 'none'}"
        )
    train = read_jsonl(directory / "train.jsonl")
    held_out = read_jsonl(directory / "eval.jsonl")
    return InstructionData(spec, _take_fraction(train, fraction), held_out)


def _load_hub(spec: str, fraction: float, seed: int) -> InstructionData:
    import datasets  # optional dependency (extra "hub"); only needed here

    try:
        rows = datasets.load_dataset(spec, split="train")
    except datasets.exceptions.DatasetNotFoundError as exc:
        raise UnknownDatasetError(f"hub dataset {spec!r} not found: {exc}") from exc
    except (ConnectionError, OSError) as exc:
        raise HubUnreachableError(
            f"cannot load dataset {spec!r}: the Hugging Face hub is unreachable (offline or no "
            f"network). Offline source: {FIXTURE_PREFIX}codealpaca"
        ) from exc
    missing = [name for name in FIELDS if name not in rows.column_names]
    if missing:
        raise DatasetFormatError(f"hub dataset {spec!r} lacks the fields {missing} "
                                 f"(has {rows.column_names})")
    rows = rows.shuffle(seed=seed)
    examples = [_example_from_row(row, f"{spec} row {i}") for i, row in enumerate(rows)]
    held_out, train = examples[:HUB_HELD_OUT_SIZE], examples[HUB_HELD_OUT_SIZE:]
    return InstructionData(spec, _take_fraction(train, fraction), held_out)


def format_prompt(example: Example) -> str:
    """Everything the model sees before its answer (Alpaca layout; no loss is taken here)."""
    text = f"### Instruction:\n{example.instruction}\n\n"
    if example.input.strip():
        text += f"### Input:\n{example.input}\n\n"
    return text + "### Response:\n"


def _special_prefix(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Special tokens the tokenizer puts before the text (BOS for OPT's GPT-2 tokenizer)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return full[:start]
    return []


def tokenize_example(example: Example, tokenizer: PreTrainedTokenizerBase, *, max_length: int,
                     response_only: bool = True) -> TokenizedExample:
    """Prompt and response are tokenized apart so the label mask starts exactly at the answer.

    The sequence is [special prefix] + prompt + response + EOS, cut to ``max_length`` tokens.
    """
    if max_length < 2:
        raise ValueError(f"max_length (seq_len) must be >= 2, got {max_length}")
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token; cannot mark the end of a response")
    prompt = _special_prefix(tokenizer) + tokenizer(
        format_prompt(example), add_special_tokens=False)["input_ids"]
    response = tokenizer(example.output, add_special_tokens=False)["input_ids"]
    response = response + [tokenizer.eos_token_id]
    input_ids = (prompt + response)[:max_length]
    if response_only:
        labels = ([IGNORE_INDEX] * len(prompt) + response)[:max_length]
    else:
        labels = list(input_ids)
    return TokenizedExample(input_ids, labels)


def tokenize_examples(examples: list[Example], tokenizer: PreTrainedTokenizerBase, *,
                      max_length: int, response_only: bool = True) -> list[TokenizedExample]:
    """Tokenize all examples; those whose answer is cut off entirely are dropped."""
    tokenized = [tokenize_example(ex, tokenizer, max_length=max_length,
                                  response_only=response_only) for ex in examples]
    kept = [t for t in tokenized if t.supervised_tokens > 0]
    if not kept:
        raise ValueError(f"seq_len {max_length} is too short: no example keeps any response "
                         "token after truncation")
    return kept


def collate(batch: list[TokenizedExample], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding gets attention 0 and label IGNORE_INDEX."""
    width = max(len(t.input_ids) for t in batch)
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, t in enumerate(batch):
        n = len(t.input_ids)
        input_ids[row, :n] = torch.tensor(t.input_ids)
        labels[row, :n] = torch.tensor(t.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
