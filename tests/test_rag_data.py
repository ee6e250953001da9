"""Corpus and QA loading: the fixture set, users' folders, and bad input."""

from __future__ import annotations

import json

import pytest

from llmbench.profiles import RagSettings
from llmbench.suites.rag.data import RagDataError, load_corpus, load_qa, qa_digest
from llmbench.suites.rag.pipeline import data_path


def _write_corpus(root, docs):
    root.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_fixture_set_is_large_enough_and_consistent():
    settings = RagSettings()
    corpus = load_corpus(data_path(settings.corpus))
    items = load_qa(data_path(settings.qa), corpus=corpus)  # also checks every doc id exists
    assert len(corpus.passages) >= 40
    assert len(items) >= 40
    assert all(item.doc_ids for item in items)
    cited = {d for item in items for d in item.doc_ids}
    assert len(cited) >= 40  # the questions spread over the corpus


def test_doc_ids_are_relative_paths_without_suffix(tmp_path):
    root = _write_corpus(tmp_path / "docs", {"a.md": "# A\nalpha", "sub/b.txt": "beta",
                                             "notes.pdf": "ignored"})
    corpus = load_corpus(root)
    assert [p.doc_id for p in corpus.passages] == ["a", "sub/b"]
    assert corpus.passages[0].text == "# A\nalpha"


def test_digest_changes_with_the_text(tmp_path):
    root = _write_corpus(tmp_path / "docs", {"a.md": "alpha"})
    before = load_corpus(root).digest
    (root / "a.md").write_text("alpha changed")
    assert load_corpus(root).digest != before


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.pdf").write_text("x")
    with pytest.raises(RagDataError, match=r"empty: it contains no \.md or \.txt files"):
        load_corpus(tmp_path / "empty")


def test_missing_corpus_dir_names_the_option(tmp_path):
    with pytest.raises(RagDataError, match=r"not a directory \(--rag-corpus\)"):
        load_corpus(tmp_path / "nope")


def test_empty_document_is_named(tmp_path):
    root = _write_corpus(tmp_path / "docs", {"a.md": "alpha", "b.md": "  \n"})
    with pytest.raises(RagDataError, match=r"b\.md is empty"):
        load_corpus(root)


def test_same_id_twice_is_an_error(tmp_path):
    root = _write_corpus(tmp_path / "docs", {"a.md": "alpha", "a.txt": "alpha again"})
    with pytest.raises(RagDataError, match="share the id 'a'"):
        load_corpus(root)


def test_chunking_keeps_the_document_id(tmp_path):
    text = " ".join(f"word{i}" for i in range(200))
    corpus = load_corpus(_write_corpus(tmp_path / "docs", {"long.md": text}), chunk_chars=300)
    assert len(corpus.passages) > 1
    assert {p.doc_id for p in corpus.passages} == {"long"}
    assert corpus.passages[1].passage_id == "long#1"


def _write_qa(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _line(**fields):
    return json.dumps(fields)


def test_qa_items_parse(tmp_path):
    qa = _write_qa(tmp_path / "qa.jsonl", [
        _line(id="q1", question="Q one?", reference="A one.", doc_ids=["a"]),
        "",
        _line(question="Q two?", reference="A two."),
    ])
    items = load_qa(qa)
    assert [i.qid for i in items] == ["q1", "line3"]
    assert items[0].doc_ids == ("a",) and items[1].doc_ids == ()


def test_bad_lines_are_reported_with_file_and_line(tmp_path):
    qa = _write_qa(tmp_path / "qa.jsonl", [
        _line(question="ok?", reference="fine."),
        "{not json",
        _line(question="no reference?"),
        _line(question="empty reference?", reference="  "),
        '["a list"]',
        _line(question="bad ids?", reference="r", doc_ids="a"),
    ])
    with pytest.raises(RagDataError) as caught:
        load_qa(qa)
    message = str(caught.value)
    assert "5 bad line(s)" in message
    assert f"{qa}:2: not valid JSON" in message
    assert f"{qa}:3: missing or empty 'reference' (the reference answer)" in message
    assert f"{qa}:4: missing or empty 'reference'" in message
    assert f"{qa}:5: expected a JSON object" in message
    assert f"{qa}:6: 'doc_ids' must be a list" in message
    assert f"{qa}:1" not in message


def test_unknown_doc_ids_and_duplicates_are_reported(tmp_path):
    corpus = load_corpus(_write_corpus(tmp_path / "docs", {"a.md": "alpha"}))
    qa = _write_qa(tmp_path / "qa.jsonl", [
        _line(id="q1", question="Q?", reference="R.", doc_ids=["a"]),
        _line(id="q1", question="Q again?", reference="R."),
        _line(id="q3", question="Q?", reference="R.", doc_ids=["a", "zzz"]),
    ])
    with pytest.raises(RagDataError) as caught:
        load_qa(qa, corpus=corpus)
    assert f"{qa}:2: duplicate id 'q1' (first on line 1)" in str(caught.value)
    assert f"{qa}:3: 'doc_ids' names documents not in the corpus: ['zzz']" in str(caught.value)


def test_empty_or_missing_qa_file(tmp_path):
    with pytest.raises(RagDataError, match="contains no questions"):
        load_qa(_write_qa(tmp_path / "qa.jsonl", ["", "  "]))
    with pytest.raises(RagDataError, match=r"does not exist \(--rag-qa\)"):
        load_qa(tmp_path / "missing.jsonl")


def test_qa_digest_depends_on_the_selected_items(tmp_path):
    qa = _write_qa(tmp_path / "qa.jsonl", [_line(question=f"Q{i}?", reference="R.")
                                           for i in range(3)])
    items = load_qa(qa)
    assert qa_digest(items[:2]) == qa_digest(load_qa(qa)[:2])
    assert qa_digest(items[:2]) != qa_digest(items)


# --- the field names people's QA sets already use ---------------------------------------------

def test_aliases_cover_every_qa_field():
    from llmbench.profiles.builtin import QA_FIELDS
    from llmbench.suites.rag.data import QA_ALIASES

    assert tuple(QA_ALIASES) == QA_FIELDS


def test_other_spellings_of_the_fields_are_accepted(tmp_path):
    corpus = load_corpus(_write_corpus(tmp_path / "docs", {"a.md": "alpha", "b.md": "beta"}))
    qa = _write_qa(tmp_path / "qa.jsonl", [
        _line(qid="q1", query="Q one?", answer="A one.", contexts=["a"]),
        _line(question_id=2, user_input="Q two?", ground_truth="A two.",
              reference_contexts=["b"]),
        # RAGAS rows: "answer" is the model's, "ground_truth" the reference
        _line(question="Q three?", answer="model said", ground_truth="A three."),
    ])
    items = load_qa(qa, corpus=corpus)
    assert [(i.qid, i.question, i.reference, i.doc_ids) for i in items] == [
        ("q1", "Q one?", "A one.", ("a",)), ("2", "Q two?", "A two.", ("b",)),
        ("line3", "Q three?", "A three.", ())]


def test_contexts_may_quote_passages_and_become_the_documents_that_hold_them(tmp_path):
    corpus = load_corpus(_write_corpus(tmp_path / "docs", {
        "leave.md": "# Leave\nStaff get 28 days of\nannual leave.",
        "ships.md": "The fleet has three ships."}))
    qa = _write_qa(tmp_path / "qa.jsonl", [
        _line(question="Q?", ground_truth="28 days.",
              contexts=["staff get 28 days of annual leave", "ships"]),
        _line(question="Q2?", ground_truth="R.", contexts=["Something no document says."]),
    ])
    with pytest.raises(RagDataError) as caught:
        load_qa(qa, corpus=corpus)
    assert (f"{qa}:2: 'contexts' names documents not in the corpus: "
            "['Something no document says.']") in str(caught.value)
    qa.write_text(qa.read_text().splitlines()[0] + "\n")
    assert load_qa(qa, corpus=corpus)[0].doc_ids == ("leave", "ships")


def test_missing_field_error_names_the_accepted_spellings(tmp_path):
    qa = _write_qa(tmp_path / "qa.jsonl", [_line(question="Q?", gold="R."),
                                           _line(prompt="Q?", reference="R.")])
    with pytest.raises(RagDataError) as caught:
        load_qa(qa)
    message = str(caught.value)
    assert (f"{qa}:1: missing or empty 'reference' (the reference answer); give it as one of "
            "'reference', 'ground_truth', 'answer' (or map your field name with "
            "qa_fields = [\"reference=<field>\"] in the profile's rag table)") in message
    assert f"{qa}:2: missing or empty 'question'; give it as one of 'question', 'query'" in message


def test_a_field_mapping_reads_any_names(tmp_path):
    qa = _write_qa(tmp_path / "qa.jsonl", [_line(prompt="Q?", gold="R.", sources=["a"]),
                                           _line(prompt="Q2?", reference="R2.")])
    settings = RagSettings(qa_fields=("question=prompt", "reference=gold", "doc_ids=sources"))
    with pytest.raises(RagDataError) as caught:
        load_qa(qa, fields=settings.qa_field_map)
    assert (f"{qa}:2: missing or empty 'reference' (the reference answer); give it as the field "
            "'gold' (mapped by qa_fields)") in str(caught.value)
    qa.write_text(qa.read_text().splitlines()[0] + "\n")
    item = load_qa(qa, fields=settings.qa_field_map)[0]
    assert (item.question, item.reference, item.doc_ids) == ("Q?", "R.", ("a",))
    with pytest.raises(ValueError, match="qa_fields entry 'answer=gold' must be FIELD=YOUR_NAME"):
        RagSettings(qa_fields=("answer=gold",))
    with pytest.raises(RagDataError, match="unknown fields"):
        load_qa(qa, fields={"answer": "gold"})
