"""Suites that need an optional extra skip with the reason when it is not installed.

A core install (``pip install llmbench``) runs the LoRA suite; the RAG suite needs
``llmbench[rag,judge]``, the bitsandbytes precisions ``llmbench[quant]``. A benchmark module
calls ``require_extra("rag")`` at its top, so collecting it without the extra is a visible skip,
not an ImportError in every run.
"""

from __future__ import annotations

import importlib.util

import pytest

EXTRAS: dict[str, tuple[str, ...]] = {
    "rag": ("langchain_classic", "langchain_core", "langchain_text_splitters", "bm25s",
            "sentence_transformers", "nltk", "rouge_score", "openai"),
    "judge": ("openevals", "langsmith", "sklearn"),
    "quant": ("bitsandbytes",),
    "embedded": ("gguf",),
}


def missing_modules(extra: str) -> list[str]:
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(*extras: str) -> None:
    """Skip the calling benchmark module when an extra it needs is not installed."""
    missing = {extra: missing_modules(extra) for extra in extras}
    missing = {extra: names for extra, names in missing.items() if names}
    if missing:
        wanted = ",".join(missing)
        names = ", ".join(n for names in missing.values() for n in names)
        pytest.skip(f"needs the optional extra(s) {wanted} (missing: {names}); install with "
                    f"pip install 'llmbench[{wanted}]'", allow_module_level=True)
