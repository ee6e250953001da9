"""Where the data this project ships (``fixtures/``) lives, installed or not.

The repository's top-level ``fixtures/`` folder is packaged as ``llmbench.fixtures`` (see
``pyproject.toml``), so a wheel install carries it as package data. A checkout (editable
install) reads the same folder in place. ``fixture_path("rag/qa.jsonl")`` works in both.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "llmbench.fixtures"


def fixtures_root() -> Path:
    """The folder holding the shipped fixtures."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if Path(location).is_dir():
                return Path(location)
    # A source checkout without an install: src/llmbench/core/fixtures.py -> <repo>/fixtures
    checkout = Path(__file__).resolve().parents[3] / "fixtures"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("llmbench's fixtures are not installed (package data "
                            f"{PACKAGE!r}) and no source checkout was found")


def fixture_path(relative: str) -> Path:
    return fixtures_root() / relative
