"""The chat messages the generator sees. Their digest is part of a benchmark's params, so editing
a prompt makes old baselines "not comparable" instead of "regressed"."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from langchain_classic.retrievers.multi_query import DEFAULT_QUERY_PROMPT

from llmbench.suites.rag.data import Passage

Messages = list[dict[str, str]]

WITH_CONTEXT = ("Answer the question using only the context. "
                "Reply with one short sentence.")
WITHOUT_CONTEXT = "Answer the question. Reply with one short sentence."


def answer_messages(question: str, passages: Sequence[Passage]) -> Messages:
    if not passages:
        return [{"role": "system", "content": WITHOUT_CONTEXT},
                {"role": "user", "content": f"Question: {question}"}]
    context = "\n\n".join(p.text for p in passages)
    return [{"role": "system", "content": WITH_CONTEXT},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"}]


def query_variant_messages(prompt_text: str) -> Messages:
    """LangChain's multi-query prompt (already filled in) as one user message."""
    return [{"role": "user", "content": prompt_text}]


def prompts_digest() -> str:
    text = "\0".join([WITH_CONTEXT, WITHOUT_CONTEXT, DEFAULT_QUERY_PROMPT.template])
    return hashlib.sha256(text.encode()).hexdigest()[:12]
