"""Which judge scored a run, and how well it separates labelled answers: said once, plainly.

RAG results carry ``artifacts["judge"]["quality"]`` and judge-quality results
``artifacts["judge"]``: the judge's spec and its AUC per pair type (see
``llmbench.judges.discrimination``). Where an AUC is below ``WEAK_AUC`` the summary says so
next to that judge's scores, and the terminal summary prints each judge's AUCs once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmbench.judges.discrimination import PAIR_TYPES, WEAK_AUC

PAIR_LABELS = {name: pair.label for name, pair in PAIR_TYPES.items()}


def judge_quality(record: dict[str, Any]) -> dict[str, Any] | None:
    """The judge spec and measured AUCs a record carries, or None."""
    result = record.get("result") if isinstance(record, dict) else None
    artifacts = (result or {}).get("artifacts") or {}
    judge = artifacts.get("judge")
    if not isinstance(judge, dict):
        return None
    found = judge.get("quality") if (result or {}).get("suite") == "rag" else judge
    if not isinstance(found, dict) or not isinstance(found.get("aucs"), dict):
        return None
    return found


def judges_of(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """spec -> its measured quality, first record per (spec, labelled set) wins."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        quality = judge_quality(record)
        if quality and quality.get("spec") and quality["spec"] not in found:
            found[quality["spec"]] = quality
    return found


def auc_text(quality: dict[str, Any]) -> str:
    parts = [f"{PAIR_LABELS.get(name, name)} {value:.2f}"
             for name, value in quality["aucs"].items() if isinstance(value, (int, float))]
    return ", ".join(parts) or "no pair type measured"


def weak_pairs(quality: dict[str, Any], threshold: float = WEAK_AUC) -> list[str]:
    return [f"{PAIR_LABELS.get(name, name)} ({value:.2f})"
            for name, value in quality["aucs"].items()
            if isinstance(value, (int, float)) and value < threshold]


def summary_notes(records: Iterable[dict[str, Any]]) -> list[str]:
    """Markdown lines for a table whose rows a judge scored: its AUCs, and a warning where weak."""
    lines = []
    for spec, quality in judges_of(records).items():
        where = f"{quality.get('items', '?')} labelled questions"
        weak = weak_pairs(quality)
        if weak:
            lines.append(f"⚠️ Judge `{spec}` is below AUC {WEAK_AUC} on {', '.join(weak)} "
                         f"(measured on {where}): its scores do not reliably separate those "
                         "answers; read them as a rough signal.")
        else:
            lines.append(f"Judge `{spec}` AUCs on {where}: {auc_text(quality)}.")
    return lines


def terminal_lines(records: Iterable[dict[str, Any]]) -> list[str]:
    """One line per judge used in the run: its AUCs, with the weak pair types named."""
    lines = []
    for spec, quality in judges_of(records).items():
        line = (f"judge {spec}: AUC {auc_text(quality)} "
                f"({quality.get('items', '?')} labelled questions)")
        weak = weak_pairs(quality)
        if weak:
            line += f"; below {WEAK_AUC}: {', '.join(weak)}"
        lines.append(line)
    return lines
