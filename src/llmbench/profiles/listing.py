"""What ``llmbench profiles`` prints: every profile, where it comes from, its resolved settings.

The full listing of a profile is valid TOML: paste it into a project's ``llmbench.toml`` (or
under ``[tool.llmbench.profiles.NAME]`` in pyproject.toml) as the start of a profile.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from llmbench.core.specs import is_remote
from llmbench.profiles.builtin import SUITES, Profile
from llmbench.profiles.schema import NONE_VALUE


def summary_rows(profiles: list[Profile]) -> list[tuple[str, ...]]:
    rows = [("profile", "from", "needs", "LoRA", "quantization", "RAG")]
    for p in profiles:
        rows.append((
            p.name, p.source, ", ".join(needs(p)) or "-",
            f"{p.lora.model} r={','.join(map(str, p.lora.ranks))} steps={p.lora.steps}",
            f"{p.quant.model} {','.join(p.quant.precisions)}",
            f"{','.join(p.rag.generators)} x {','.join(p.rag.retrievers)} judge={p.rag.judge}",
        ))
    return rows


def needs(profile: Profile) -> list[str]:
    """What a profile needs beyond this machine: the hub, an API key."""
    out = []
    if profile.needs_hub:
        out.append("hub")
    if any(map(is_remote, (*profile.rag.generators, profile.rag.judge))):
        out.append("OPENAI_API_KEY")
    return out


def render_rows(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    if value is None:
        return json.dumps(NONE_VALUE)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, ints and floats are spelled alike in JSON and TOML


def as_toml(profile: Profile) -> str:
    lines = [f"# {profile.name}: {profile.description}", f"# from: {profile.source}",
             f"[profiles.{profile.name}]", f"description = {toml_value(profile.description)}"]
    for suite in SUITES:
        lines += ["", f"[profiles.{profile.name}.{suite}]"]
        for key, value in dataclasses.asdict(profile.suite_settings(suite)).items():
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"
