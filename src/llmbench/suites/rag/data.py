"""The RAG corpus (a folder of .md/.txt documents) and the QA set (JSONL).

A document's id is its path inside the corpus folder without the suffix
(``fixtures/rag/corpus/annual-leave.md`` -> ``annual-leave``). Each QA line is a JSON object::

    {"id": "q01", "question": "...", "reference": "...", "doc_ids": ["annual-leave"]}

``question`` and ``reference`` (the reference answer) are required; ``id`` defaults to
``line<N>``; ``doc_ids`` (the documents that answer the question) are optional and feed the
retrieval metrics. The field names other QA sets use are accepted too (``QA_ALIASES``, first
present wins: in RAGAS-style rows ``answer`` is the model's answer and ``ground_truth`` the
reference, so ``ground_truth`` comes first); ``contexts`` may quote passages instead of naming
documents, and each becomes the documents that contain it. Other names are mapped with the
profile's ``qa_fields`` (``["reference=gold_answer"]``). Every bad line is reported with its
file and line number.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.core.jsonl import JsonlError, read_jsonl

# Spellings of each QA field (llmbench.profiles.QA_FIELDS), in order of preference.
QA_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "qid", "question_id"),
    "question": ("question", "query", "user_input"),
    "reference": ("reference", "ground_truth", "answer"),
    "doc_ids": ("doc_ids", "contexts", "reference_contexts"),
}

DOCUMENT_SUFFIXES = (".md", ".txt")


class RagDataError(ValueError):
    """The corpus or the QA file cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class Passage:
    """One retrievable unit: a whole document, or one chunk of it."""

    passage_id: str  # doc_id, or doc_id#<n> for chunk n
    doc_id: str
    text: str


@dataclass(frozen=True)
class QAItem:
    qid: str
    question: str
    reference: str
    doc_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Corpus:
    root: Path
    passages: tuple[Passage, ...]
    digest: str  # sha256 of the documents' ids and texts: identifies the corpus in params

    @property
    def doc_ids(self) -> set[str]:
        return {p.doc_id for p in self.passages}


def load_corpus(root: str | Path, *, chunk_chars: int | None = None) -> Corpus:
    """Read every .md/.txt file under ``root``; optionally split documents into chunks."""
    root = Path(root)
    if not root.is_dir():
        raise RagDataError(f"RAG corpus {root} is not a directory (--rag-corpus)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in DOCUMENT_SUFFIXES
                   and p.is_file())
    if not files:
        raise RagDataError(f"RAG corpus {root} is empty: it contains no "
                           f"{' or '.join(DOCUMENT_SUFFIXES)} files")
    documents: dict[str, str] = {}
    digest = hashlib.sha256()
    for path in files:
        doc_id = path.relative_to(root).with_suffix("").as_posix()
        if doc_id in documents:
            raise RagDataError(f"RAG corpus {root}: two documents share the id {doc_id!r} "
                               f"(rename one of {doc_id}.md / {doc_id}.txt)")
        try:
            text = path.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError as exc:
            raise RagDataError(f"RAG document {path} is not UTF-8 text: {exc}") from None
        if not text:
            raise RagDataError(f"RAG document {path} is empty")
        documents[doc_id] = text
        digest.update(f"{doc_id}\0{text}\0".encode())
    if chunk_chars is not None:
        digest.update(f"chunk_chars={chunk_chars}".encode())
    passages = tuple(p for doc_id, text in documents.items()
                     for p in _passages(doc_id, text, chunk_chars))
    return Corpus(root, passages, digest.hexdigest()[:16])


def _passages(doc_id: str, text: str, chunk_chars: int | None) -> list[Passage]:
    if chunk_chars is None:
        return [Passage(doc_id, doc_id, text)]
    if chunk_chars < 50:
        raise RagDataError(f"chunk_chars must be at least 50, got {chunk_chars}")
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_chars,
                                              chunk_overlap=chunk_chars // 10)
    return [Passage(f"{doc_id}#{i}", doc_id, chunk)
            for i, chunk in enumerate(splitter.split_text(text))]


def load_qa(path: str | Path, *, corpus: Corpus | None = None,
            fields: dict[str, str] | None = None) -> tuple[QAItem, ...]:
    """Parse the JSONL QA file; with ``corpus``, also check that every doc id exists.

    ``fields`` maps llmbench's names to the file's (``{"reference": "gold_answer"}``); a name
    it leaves out is looked up under its usual spellings (``QA_ALIASES``).
    """
    fields = fields or {}
    unknown = sorted(set(fields) - set(QA_ALIASES))
    if unknown:
        raise RagDataError(f"QA field mapping names unknown fields {unknown}; valid: "
                           f"{', '.join(QA_ALIASES)}")
    documents = _document_texts(corpus) if corpus is not None else None
    seen: dict[str, int] = {}

    def parse(data: dict[str, Any], lineno: int) -> QAItem:
        item = _parse_line(data, lineno, documents, fields)
        if item.qid in seen:
            raise ValueError(f"duplicate id {item.qid!r} (first on line {seen[item.qid]})")
        seen[item.qid] = lineno
        return item

    try:
        return tuple(read_jsonl(path, parse, what="RAG QA file", option="--rag-qa",
                                    noun="questions"))
    except JsonlError as exc:
        raise RagDataError(str(exc)) from None


def _spellings(name: str, fields: dict[str, str]) -> tuple[str, ...]:
    return (fields[name],) if name in fields else QA_ALIASES[name]


def _pick(data: dict[str, Any], name: str, fields: dict[str, str]) -> tuple[str, Any]:
    """The first spelling of ``name`` present in the line, and its value."""
    for key in _spellings(name, fields):
        if key in data:
            return key, data[key]
    return _spellings(name, fields)[0], None


def _accepted(name: str, fields: dict[str, str]) -> str:
    if name in fields:
        return f"the field {fields[name]!r} (mapped by qa_fields)"
    return (f"one of {', '.join(map(repr, QA_ALIASES[name]))} (or map your field name with "
            f'qa_fields = ["{name}=<field>"] in the profile\'s rag table)')


def _parse_line(data: dict[str, Any], lineno: int, documents: dict[str, str] | None,
                fields: dict[str, str]) -> QAItem:
    values = {}
    for name in ("question", "reference"):
        key, value = _pick(data, name, fields)
        if not isinstance(value, str) or not value.strip():
            hint = " (the reference answer)" if name == "reference" else ""
            raise RagDataError(f"missing or empty {name!r}{hint}; give it as "
                               f"{_accepted(name, fields)}")
        values[name] = value.strip()
    _, qid = _pick(data, "id", fields)
    if qid is None:
        qid = f"line{lineno}"
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise RagDataError(f"'id' must be a string or integer, got {qid!r}")
    key, doc_ids = _pick(data, "doc_ids", fields)
    doc_ids = [] if doc_ids is None else doc_ids
    if not isinstance(doc_ids, list) or not all(isinstance(d, str) and d for d in doc_ids):
        raise RagDataError(f"{key!r} must be a list of document ids (or, with a corpus, of "
                           f"passages quoted from its documents), got {doc_ids!r}")
    if documents is not None:
        doc_ids = _resolve_doc_ids(key, doc_ids, documents)
    return QAItem(str(qid), values["question"], values["reference"], tuple(doc_ids))


def _normalize(text: str) -> str:
    return " ".join(text.split()).casefold()


def _document_texts(corpus: Corpus) -> dict[str, str]:
    texts: dict[str, list[str]] = {}
    for passage in corpus.passages:
        texts.setdefault(passage.doc_id, []).append(passage.text)
    return {doc_id: _normalize(" ".join(parts)) for doc_id, parts in texts.items()}


def _resolve_doc_ids(key: str, entries: list[str], documents: dict[str, str]) -> list[str]:
    """Document ids as given; a quoted passage (RAGAS-style ``contexts``) becomes the ids of the
    documents that contain it."""
    resolved: list[str] = []
    unknown = []
    for entry in entries:
        if entry in documents:
            matches = [entry]
        else:
            text = _normalize(entry)
            matches = [doc_id for doc_id, doc in documents.items() if text and text in doc]
        if not matches:
            unknown.append(entry if len(entry) <= 60 else entry[:57] + "...")
        resolved += [m for m in matches if m not in resolved]
    if unknown:
        raise RagDataError(f"{key!r} names documents not in the corpus: {unknown} (each entry "
                           "must be a document id or text found in a document)")
    return resolved


def qa_digest(items: tuple[QAItem, ...] | list[QAItem]) -> str:
    """Identifies the questions a run used (so adding questions elsewhere keeps it stable)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.qid, item.question, item.reference, item.doc_ids])
                      .encode())
    return digest.hexdigest()[:16]
