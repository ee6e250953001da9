"""Can this machine get a hub repository? Asked once, before a benchmark spends minutes on it.

``hub_problem(["facebook/opt-350m", ...])`` says why the listed repositories cannot be loaded
here (the hub is unreachable, or ``HF_HUB_OFFLINE`` is set, and no local copy is cached), or
None when they can. The hub is probed once per endpoint and process, with a short timeout:
without it, transformers retries for about a minute per file before it gives up.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

PROBE_TIMEOUT_S = 5.0


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def is_cached(repo_id: str, cache: Path | None = None) -> bool:
    """A snapshot of ``repo_id`` (model or dataset) lies in the local hub cache."""
    cache = cache if cache is not None else hub_cache()
    folder = repo_id.replace("/", "--")
    return any(any((cache / f"{kind}--{folder}" / "snapshots").glob("*"))
               for kind in ("models", "datasets") if (cache / f"{kind}--{folder}").is_dir())


def offline_mode() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=8)
def unreachable(endpoint: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why ``endpoint`` cannot be reached, or None when it answers (any HTTP status)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"),
                                    timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{endpoint} is unreachable ({reason})"


def hub_problem(repo_ids: Iterable[str], *, cache: Path | None = None,
                endpoint: str | None = None) -> str | None:
    """Why these hub repositories cannot be loaded here, or None when they can."""
    missing = [r for r in dict.fromkeys(repo_ids) if not is_cached(r, cache)]
    if not missing:
        return None
    names = ", ".join(missing)
    if offline_mode():
        return f"needs the Hugging Face hub for {names} (not cached locally), but HF_HUB_OFFLINE is set"
    problem = unreachable(endpoint or hub_endpoint())
    if problem is None:
        return None
    return (f"needs the Hugging Face hub for {names} (not cached locally): {problem}. "
            "Run where the hub is reachable, or download them into the hub cache first")
