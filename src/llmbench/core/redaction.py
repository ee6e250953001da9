"""Secrets never leave the process: ONE function that scrubs text before it is written anywhere.

``redact_secrets(text)`` replaces

* the value of every environment variable in use whose name says it holds a secret
  (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_SECRET_KEY``, ``*_ACCESS_KEY``, ``*_PASSWORD``),
  wherever it appears;
* credentials in echoed headers (``Authorization: Bearer …``, ``Basic …``, ``x-api-key: …``,
  ``api-key=…``) and token shapes that are keys whatever variable they came from (``sk-…``,
  ``lsv2_…``, ``hf_…``, ``ghp_…``, ``xox?-…``)

with ``***``. ``redact_data(value)`` does the same to every string inside a JSON-like value
(dict keys included), for results files, report payloads and uploads.

Apply it at every boundary where text leaves: error messages and notes of endpoints, results.json,
summary.md, LangSmith and W&B payloads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
MIN_SECRET_CHARS = 8  # shorter values ("1", "true") are not secrets, and would mask everything
SECRET_NAME = re.compile(r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|SECRET_KEY|ACCESS_KEY|PASSWORD)$",
                         re.IGNORECASE)

_TOKEN = r"[A-Za-z0-9._~+/=\-]{8,}"
SECRET_SHAPES = (
    # echoed headers and parameters: "Authorization: Basic xyz", "'x-api-key': 'xyz'", "api_key=xyz"
    re.compile(rf"(?i)([\"']?(?:x-api-key|api[-_]key|api_token|access_token|authorization)"
               rf"[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)({_TOKEN})"),
    # "Bearer xyz" anywhere
    re.compile(rf"(?i)(\bbearer(?:\s+|%20))({_TOKEN})"),
    # well-known key formats
    re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\blsv2_[A-Za-z0-9_]{16,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
)


def secret_values() -> list[str]:
    """Values of the secret-named environment variables in use, longest first."""
    values = {value for name, value in os.environ.items()
              if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


def redact_secrets(text: str, values: list[str] | None = None) -> str:
    """``text`` without secrets: env-var values, echoed credentials and key shapes -> ``***``.
    ``values``: the secret values (``secret_values()`` when not given)."""
    if not isinstance(text, str) or not text:
        return text
    for value in secret_values() if values is None else values:
        text = text.replace(value, MASK)
    for prefixed in SECRET_SHAPES[:2]:  # keep the header name, mask its value
        text = prefixed.sub(lambda m: f"{m.group(1)}{MASK}", text)
    for shape in SECRET_SHAPES[2:]:
        text = shape.sub(MASK, text)
    return text


def redact_data(value: Any) -> Any:
    """A copy of a JSON-like ``value`` with every string (keys too) passed through
    ``redact_secrets``; other values are returned as they are."""
    values = secret_values()  # once: a results file holds tens of thousands of strings

    def scrub(item: Any) -> Any:
        if isinstance(item, str):
            return redact_secrets(item, values)
        if isinstance(item, Mapping):
            return {scrub(k) if isinstance(k, str) else k: scrub(v) for k, v in item.items()}
        if isinstance(item, list):
            return [scrub(v) for v in item]
        if isinstance(item, tuple):
            return tuple(scrub(v) for v in item)
        return item

    return scrub(value)
