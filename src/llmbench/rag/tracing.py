"""LangSmith tracing of the RAG steps (retrieve, generate, judge), off unless asked for.

``traceable(name=..., run_type=...)`` wraps a function so that each call becomes a LangSmith run
when ``LANGSMITH_TRACING=true`` *and* ``LANGSMITH_API_KEY`` is set; otherwise the plain function
runs and nothing connects anywhere (langsmith is not even imported). The check happens per call,
so setting the variables for one pytest run is enough. Runs go to ``LANGSMITH_PROJECT`` (default
"default") at ``LANGSMITH_ENDPOINT``.

    from llmbench.rag.tracing import traceable

    @traceable(name="retrieve", run_type="retriever")
    def retrieve(question: str) -> list[str]: ...
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _env(name: str) -> str:
    return os.environ.get(f"LANGSMITH_{name}") or os.environ.get(f"LANGCHAIN_{name}") or ""


def tracing_active() -> bool:
    """True when LangSmith tracing is asked for (``LANGSMITH_TRACING=true``) and possible."""
    asked = (_env("TRACING") or os.environ.get("LANGCHAIN_TRACING_V2", "")).lower() == "true"
    return asked and bool(_env("API_KEY"))


def traceable(*, name: str, run_type: str = "chain") -> Callable[[F], F]:
    """Trace calls of the decorated function as LangSmith runs while ``tracing_active()``."""

    def decorate(fn: F) -> F:
        traced: Callable[..., Any] | None = None

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal traced
            if not tracing_active():
                return fn(*args, **kwargs)
            if traced is None:
                import langsmith

                traced = langsmith.traceable(name=name, run_type=run_type)(fn)
            return traced(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


SECRET_ENV_VARS = ("OPENAI_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")


def redact_secrets(text: str) -> str:
    """``text`` with the values of the API-key variables replaced by ``***``.

    Error messages from endpoints go into results and reports; some servers echo the key."""
    for name in SECRET_ENV_VARS:
        value = os.environ.get(name, "")
        if len(value) >= 8:
            text = text.replace(value, "***")
    return text


def trace_retrieve(fn: F) -> F:
    return traceable(name="retrieve", run_type="retriever")(fn)


def trace_generate(fn: F) -> F:
    return traceable(name="generate", run_type="llm")(fn)


def trace_judge(fn: F) -> F:
    return traceable(name="judge", run_type="chain")(fn)
