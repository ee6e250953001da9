"""The one JSONL reader: every bad line is reported with its file and line number.

    items = read_jsonl(path, parse, what="RAG QA file", option="--rag-qa")

``parse(obj, lineno)`` turns one JSON object into an item and raises ``ValueError`` with a
short reason when the line is not usable. Blank lines are skipped. When any line is bad, one
``JsonlError`` lists them all (the first ``MAX_REPORTED`` and a count of the rest), so a user
fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
MAX_REPORTED = 20


class JsonlError(ValueError):
    """A JSONL file that cannot be used; the message names the file and every bad line."""

    def __init__(self, message: str, path: Path, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.problems = problems or []


def read_jsonl(path: str | Path, parse: Callable[[dict[str, Any], int], T], *,
               what: str = "JSONL file", option: str | None = None, noun: str = "entries",
               allow_empty: bool = False) -> list[T]:
    path = Path(path)
    hint = f" ({option})" if option else ""
    if not path.is_file():
        raise JsonlError(f"{what} {path} does not exist{hint}", path)
    items: list[T] = []
    problems: list[str] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(f"{path}:{lineno}: not valid JSON ({exc.msg} at column "
                                    f"{exc.colno})")
                    continue
                if not isinstance(data, dict):
                    problems.append(f"{path}:{lineno}: expected a JSON object, got "
                                    f"{type(data).__name__}")
                    continue
                try:
                    items.append(parse(data, lineno))
                except ValueError as exc:
                    problems.append(f"{path}:{lineno}: {exc}")
    except UnicodeDecodeError as exc:
        raise JsonlError(f"{what} {path} is not UTF-8 text: {exc}", path) from None
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        raise JsonlError(f"{len(problems)} bad line(s) in {what} {path}{hint}:\n"
                         + "\n".join(shown) + (f"\n... and {more} more" if more else ""),
                         path, problems)
    if not items and not allow_empty:
        raise JsonlError(f"{what} {path} contains no {noun}{hint}", path)
    return items
