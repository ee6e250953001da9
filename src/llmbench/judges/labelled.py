"""Labelled answers for judging the judges (``fixtures/rag/judge_pairs.jsonl``, ``--judge-pairs``).

One JSON object per line: a question, its reference answer and any of these answers::

    {"id": "q04", "question": "How long is the indoor tank at Skerrin?",
     "reference": "The Skerrin Test Basin is a 90-metre indoor tank.",
     "right": "The tank at Skerrin is 90 metres long.",          # same facts, other words
     "partial": "...",                                            # some facts, none wrong
     "wrong": "The tank at Skerrin is 60 metres long.",          # near miss: one fact changed
     "changed": "90 -> 60 metres",                                # what the near miss changed
     "offtopic": "The referral bonus is 2,000 euros.",           # fluent, about something else
     "evasive": "I don't know the exact size of the basin."}     # a non-answer

``id`` defaults to ``line<N>``; ``changed`` and ``doc_ids`` are optional notes. A line needs
``question``, ``reference`` and at least one answer; each AUC is computed from the answer kinds
the set has. Every bad line is reported with its file and line number.

Graded label (for the Spearman correlation of correctness scores): ``GRADES`` -- right 2,
partial 1, every other kind 0. Helpfulness: right, partial and wrong answers answer the
question; off-topic and evasive ones do not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmbench.core.jsonl import JsonlError, read_jsonl

ANSWER_KINDS = ("right", "partial", "wrong", "offtopic", "evasive")
GRADES = {"right": 2, "partial": 1, "wrong": 0, "offtopic": 0, "evasive": 0}
ANSWERING = ("right", "partial", "wrong")  # helpfulness: these answer the question
NOT_ANSWERING = ("offtopic", "evasive")
NOTE_FIELDS = ("id", "changed", "doc_ids")
# Every kind the shipped set must have on every line (partial answers need a reference with
# more than one fact, so they are optional).
COMPLETE_KINDS = ("right", "wrong", "offtopic", "evasive")
PAIRS_OPTION = "--judge-pairs"


class JudgePairsError(ValueError):
    """A labelled judge set that cannot be used; the message names the file and lines."""


@dataclass(frozen=True)
class LabelledItem:
    qid: str
    question: str
    reference: str
    answers: dict[str, str] = field(default_factory=dict)  # kind -> answer text
    changed: str = ""
    lineno: int = 0

    def answer(self, kind: str) -> str | None:
        return self.answers.get(kind)


def _normalized(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".")


def parse_item(data: dict[str, Any], lineno: int) -> LabelledItem:
    """One line of a judge set; ``ValueError`` says what is wrong with it."""
    unknown = sorted(set(data) - {"question", "reference", *ANSWER_KINDS, *NOTE_FIELDS})
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; a line has question, reference, any of "
                         f"{', '.join(ANSWER_KINDS)} and optionally {', '.join(NOTE_FIELDS)}")
    text: dict[str, str] = {}
    for name in ("question", "reference", *ANSWER_KINDS):
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name!r} must be a non-empty string, got {value!r}")
        text[name] = value.strip()
    for name in ("question", "reference"):
        if name not in text:
            raise ValueError(f"missing {name!r}; each line needs question, reference and at "
                             f"least one of {', '.join(ANSWER_KINDS)}")
    answers = {kind: text[kind] for kind in ANSWER_KINDS if kind in text}
    if not answers:
        raise ValueError(f"no answer to judge: give at least one of {', '.join(ANSWER_KINDS)}")
    if "right" in answers and _normalized(answers["right"]) == _normalized(text["reference"]):
        raise ValueError("'right' repeats the reference word for word; a paraphrase tests the "
                         "judge, a copy does not")
    seen: dict[str, str] = {}
    for kind, answer in answers.items():
        if _normalized(answer) in seen:
            raise ValueError(f"{kind!r} and {seen[_normalized(answer)]!r} are the same answer")
        seen[_normalized(answer)] = kind
    qid = data.get("id", f"line{lineno}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise ValueError(f"'id' must be a string or integer, got {qid!r}")
    changed = data.get("changed", "")
    if not isinstance(changed, str):
        raise ValueError(f"'changed' must be a string (what the near miss changed), got "
                         f"{changed!r}")
    return LabelledItem(str(qid), text["question"], text["reference"], answers, changed, lineno)


def load_judge_pairs(path: str | Path, *, option: str = PAIRS_OPTION) -> tuple[LabelledItem, ...]:
    """Read and validate a judge set; ``JudgePairsError`` lists every bad line as file:line."""
    seen: dict[str, int] = {}

    def parse(data: dict[str, Any], lineno: int) -> LabelledItem:
        item = parse_item(data, lineno)
        if item.qid in seen:
            raise ValueError(f"duplicate id {item.qid!r} (first on line {seen[item.qid]})")
        seen[item.qid] = lineno
        return item

    try:
        return tuple(read_jsonl(path, parse, what="judge pairs file", option=option,
                                noun="labelled answers"))
    except JsonlError as exc:
        raise JudgePairsError(str(exc)) from None


def completeness_problems(items: Sequence[LabelledItem], path: str | Path,
                          qa: Sequence[Any] | None = None) -> list[str]:
    """What keeps a judge set from being the project's own: every line must carry
    ``COMPLETE_KINDS``, and with ``qa`` (QA items with qid/question/reference) the set must
    cover exactly those questions, with the same question and reference text."""
    problems = [f"{path}:{item.lineno}: missing {', '.join(missing)}"
                for item in items
                if (missing := [k for k in COMPLETE_KINDS if k not in item.answers])]
    if qa is not None:
        by_id = {item.qid: item for item in items}
        for q in qa:
            item = by_id.get(q.qid)
            if item is None:
                problems.append(f"{path}: no line for QA item {q.qid!r}")
                continue
            for name in ("question", "reference"):
                if getattr(item, name) != getattr(q, name):
                    problems.append(f"{path}:{item.lineno}: {name} differs from the QA set's "
                                    f"item {q.qid!r}")
        extra = sorted(set(by_id) - {q.qid for q in qa})
        problems += [f"{path}:{by_id[qid].lineno}: id {qid!r} is not in the QA set"
                     for qid in extra]
    return problems


def pairs_digest(items: Sequence[LabelledItem]) -> str:
    """Identifies the labelled answers a measurement used (a baseline param)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.qid, item.question, item.reference,
                                  sorted(item.answers.items())]).encode())
    return digest.hexdigest()[:16]


def kind_counts(items: Sequence[LabelledItem]) -> dict[str, int]:
    return {kind: sum(kind in item.answers for item in items) for kind in ANSWER_KINDS}
