"""The JSON Schema of results.json (results.schema.json, shipped in the package)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("results.schema.json")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _deepest(error: Any) -> Any:
    """For anyOf failures, the branch that matched furthest into the data says what is wrong."""
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def schema_errors(data: Any, limit: int = 10) -> list[str]:
    """Human-readable schema violations (``field.path: problem``), at most ``limit``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        load_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted((_deepest(e) for e in validator.iter_errors(data)),
                    key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where(e.absolute_path)}: {e.message}" for e in errors[:limit]]


def validate_results(data: Any, source: str | Path = "results") -> None:
    """Raise ValueError naming the file and the fields that do not match the schema."""
    errors = schema_errors(data)
    if errors:
        raise ValueError(f"{source} does not match {SCHEMA_PATH.name}:\n  " + "\n  ".join(errors))
