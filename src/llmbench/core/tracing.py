"""LangSmith tracing of the RAG steps (retrieve, generate, judge), off unless asked for.

``traceable(name=..., run_type=...)`` wraps a function so that each call becomes a LangSmith run
when ``LANGSMITH_TRACING=true`` *and* ``LANGSMITH_API_KEY`` is set; otherwise the plain function
runs and nothing connects anywhere. The check happens per call, so setting the variables for one
pytest run is enough. Runs go to ``LANGSMITH_PROJECT`` (default "default") at
``LANGSMITH_ENDPOINT``. Arguments that are not plain data (retrievers, generators, judges: they
hold API clients) are recorded by type name only, and every recorded input and output passes
through ``llmbench.core.redaction`` first.

Libraries that trace by themselves (openevals' judges) run inside ``untraced_unless_active()``,
so ``LANGSMITH_TRACING=true`` without a key does not make them try to connect either.

    from llmbench.core.tracing import traceable

    @traceable(name="retrieve", run_type="retriever")
    def retrieve(question: str) -> list[str]: ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from llmbench.core.redaction import redact_data, redact_secrets

__all__ = ["plain_inputs", "redact_secrets", "traceable", "tracing_active",
           "untraced_unless_active"]  # redact_secrets: re-exported from core.redaction

F = TypeVar("F", bound=Callable[..., Any])


def _env(name: str) -> str:
    return os.environ.get(f"LANGSMITH_{name}") or os.environ.get(f"LANGCHAIN_{name}") or ""


def tracing_active() -> bool:
    """True when LangSmith tracing is asked for (``LANGSMITH_TRACING=true``) and possible."""
    asked = (_env("TRACING") or os.environ.get("LANGCHAIN_TRACING_V2", "")).lower() == "true"
    return asked and bool(_env("API_KEY"))


def untraced_unless_active() -> contextlib.AbstractContextManager[Any]:
    """A context in which langsmith's own ``@traceable`` code traces only if ours would."""
    if tracing_active():
        return contextlib.nullcontext()
    from langsmith.run_helpers import tracing_context

    return tracing_context(enabled=False)


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def plain_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Arguments as a run records them: JSON-like values as they are, any other object (a
    retriever, a generator, a judge: they hold API clients, hence keys) by its type name."""
    return {name: value if _is_plain(value) else f"<{type(value).__name__}>"
            for name, value in inputs.items()}


def traceable(*, name: str, run_type: str = "chain",
              process_inputs: Callable[[dict[str, Any]], dict[str, Any]] = plain_inputs
              ) -> Callable[[F], F]:
    """Trace calls of the decorated function as LangSmith runs while ``tracing_active()``.

    ``process_inputs`` maps the call's arguments (by name) to what the run records."""

    def decorate(fn: F) -> F:
        traced: Callable[..., Any] | None = None

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal traced
            if not tracing_active():
                return fn(*args, **kwargs)
            if traced is None:
                import langsmith

                traced = langsmith.traceable(
                    name=name, run_type=run_type,
                    process_inputs=lambda inputs: redact_data(process_inputs(inputs)),
                    process_outputs=redacted_outputs)(fn)
            return traced(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return f"<{type(value).__name__}>"


def redacted_outputs(outputs: Any) -> Any:
    """What a run records as its outputs: plain JSON (dataclasses as dicts), secrets masked."""
    return redact_data(json.loads(json.dumps(outputs, default=_jsonable)))
