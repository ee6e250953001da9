"""The labelled judge set: the shipped one is complete and well formed; bad files say file:line."""

from __future__ import annotations

import difflib
import json

import pytest

from llmbench.cli import main
from llmbench.core.fixtures import fixture_path
from llmbench.judges.labelled import (
    COMPLETE_KINDS,
    JudgePairsError,
    completeness_problems,
    kind_counts,
    load_judge_pairs,
    pairs_digest,
)
from llmbench.suites.rag.data import load_qa

SHIPPED = fixture_path("rag/judge_pairs.jsonl")


@pytest.fixture(scope="module")
def shipped():
    return load_judge_pairs(SHIPPED)


def test_the_shipped_set_covers_every_qa_item_with_every_kind(shipped):
    qa = load_qa(fixture_path("rag/qa.jsonl"))
    assert completeness_problems(shipped, SHIPPED, qa) == []
    counts = kind_counts(shipped)
    assert all(counts[kind] == len(qa) == 165 for kind in COMPLETE_KINDS)
    assert counts["partial"] >= 20


def word_spans_changed(a: str, b: str) -> list[tuple[str, str]]:
    sa, sb = a.split(), b.split()
    ops = difflib.SequenceMatcher(a=sa, b=sb, autojunk=False).get_opcodes()
    return [(" ".join(sa[i1:i2]), " ".join(sb[j1:j2])) for tag, i1, i2, j1, j2 in ops
            if tag != "equal"]


def test_every_near_miss_is_the_right_answer_with_one_fact_changed(shipped):
    for item in shipped:
        spans = word_spans_changed(item.answers["right"], item.answers["wrong"])
        # one fact; "Wednesdays ... Deep Water Wednesday" changes it in two places
        assert 1 <= len(spans) <= 2, (item.qid, spans)
        assert item.changed, item.qid


def test_answers_of_one_question_are_all_different_and_partials_are_shorter(shipped):
    for item in shipped:
        texts = list(item.answers.values())
        assert len(set(texts)) == len(texts)
        if "partial" in item.answers:
            assert len(item.answers["partial"]) < len(item.answers["right"]), item.qid


def test_cli_checks_the_shipped_set(capsys):
    assert main(["judge-pairs"]) == 0
    assert "165 questions (165 right, 29 partial, 165 wrong, 165 offtopic, 165 evasive): ok" in \
        capsys.readouterr().out


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GOOD = {"question": "How long is the tank?", "reference": "The tank is 90 metres long.",
        "right": "It measures 90 m.", "wrong": "It measures 60 m.", "offtopic": "Lunch is 4.50.",
        "evasive": "No idea."}


def test_a_user_set_may_carry_any_subset_of_kinds(tmp_path):
    path = write(tmp_path / "mine.jsonl", [
        {"question": "Q1?", "reference": "R1.", "right": "A1.", "wrong": "W1."},
        {"id": 7, "question": "Q2?", "reference": "R2.", "evasive": "Ask HR."}])
    items = load_judge_pairs(path)
    assert [i.qid for i in items] == ["line1", "7"]
    assert items[1].answers == {"evasive": "Ask HR."} and items[1].lineno == 2
    assert pairs_digest(items) != pairs_digest(items[:1])


def test_every_bad_line_is_reported_with_file_and_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", [
        GOOD,
        {**GOOD, "right": "The tank is 90 metres long"},  # the reference again
        {**GOOD, "offtopik": "typo"},
        {"question": "Q?", "reference": "R."},  # nothing to judge
        {**GOOD, "wrong": ""},
        {**GOOD, "wrong": "It measures 90 m."},  # same as right
        "[1, 2]",
        "{not json",
        {**GOOD, "reference": None},
    ])
    with pytest.raises(JudgePairsError) as err:
        load_judge_pairs(path)
    message = str(err.value)
    assert "8 bad line(s)" in message and "--judge-pairs" in message
    for lineno, text in [(2, "'right' repeats the reference"), (3, "unknown field(s) ['offtopik']"),
                         (4, "no answer to judge"), (5, "'wrong' must be a non-empty string"),
                         (6, "'wrong' and 'right' are the same answer"),
                         (7, "expected a JSON object"), (8, "not valid JSON"),
                         (9, "'reference' must be a non-empty string")]:
        assert f"{path}:{lineno}: {text}" in message


def test_duplicate_ids_and_missing_files_are_errors(tmp_path):
    path = write(tmp_path / "dup.jsonl", [{**GOOD, "id": "a"}, {**GOOD, "id": "a"}])
    with pytest.raises(JudgePairsError, match=r"dup.jsonl:2: duplicate id 'a' \(first on line 1\)"):
        load_judge_pairs(path)
    with pytest.raises(JudgePairsError, match="does not exist"):
        load_judge_pairs(tmp_path / "missing.jsonl")


def test_completeness_names_missing_kinds_and_qa_mismatches(tmp_path):
    path = write(tmp_path / "s.jsonl", [{"id": "q01", "question": "Q?", "reference": "R.",
                                         "right": "A."}])
    items = load_judge_pairs(path)
    qa = load_qa(write(tmp_path / "qa.jsonl", [
        {"id": "q01", "question": "Q?", "reference": "Other."},
        {"id": "q02", "question": "Q2?", "reference": "R2."}]))
    problems = completeness_problems(items, path, qa)
    assert f"{path}:1: missing wrong, offtopic, evasive" in problems
    assert f"{path}:1: reference differs from the QA set's item 'q01'" in problems
    assert f"{path}: no line for QA item 'q02'" in problems
    assert main(["judge-pairs", str(path), "--qa", str(tmp_path / "qa.jsonl")]) == 1
