"""The RAG corpus (a folder of .md/.txt documents) and the QA set (JSONL).

A document's id is its path inside the corpus folder without the suffix
(``fixtures/rag/corpus/annual-leave.md`` -> ``annual-leave``). Each QA line is a JSON object::

    {"id": "q01", "question": "...", "reference": "...", "doc_ids": ["annual-leave"]}

``question`` and ``reference`` (the reference answer) are required; ``id`` defaults to
``line<N>``; ``doc_ids`` (the documents that answer the question) are optional and feed the
retrieval metrics. Every bad line is reported with its file and line number.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.core.jsonl import JsonlError, read_jsonl

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


def load_qa(path: str | Path, *, corpus: Corpus | None = None) -> tuple[QAItem, ...]:
    """Parse the JSONL QA file; with ``corpus``, also check that every doc id exists."""
    known = corpus.doc_ids if corpus is not None else None
    seen: dict[str, int] = {}

    def parse(data: dict[str, Any], lineno: int) -> QAItem:
        item = _parse_line(data, lineno, known)
        if item.qid in seen:
            raise ValueError(f"duplicate id {item.qid!r} (first on line {seen[item.qid]})")
        seen[item.qid] = lineno
        return item

    try:
        return tuple(read_jsonl(path, parse, what="RAG QA file", option="--rag-qa",
                                    noun="questions"))
    except JsonlError as exc:
        raise RagDataError(str(exc)) from None


def _parse_line(data: dict[str, Any], lineno: int, known: set[str] | None) -> QAItem:
    fields = {}
    for name in ("question", "reference"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            hint = " (the reference answer)" if name == "reference" else ""
            raise RagDataError(f"missing or empty {name!r}{hint}; each line needs "
                               '{"question": ..., "reference": ..., "doc_ids": [...]}')
        fields[name] = value.strip()
    qid = data.get("id", f"line{lineno}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise RagDataError(f"'id' must be a string or integer, got {qid!r}")
    doc_ids = data.get("doc_ids", [])
    if not isinstance(doc_ids, list) or not all(isinstance(d, str) and d for d in doc_ids):
        raise RagDataError(f"'doc_ids' must be a list of document ids, got {doc_ids!r}")
    if known is not None:
        unknown = [d for d in doc_ids if d not in known]
        if unknown:
            raise RagDataError(f"'doc_ids' names documents not in the corpus: {unknown}")
    return QAItem(str(qid), fields["question"], fields["reference"], tuple(doc_ids))


def qa_digest(items: tuple[QAItem, ...] | list[QAItem]) -> str:
    """Identifies the questions a run used (so adding questions elsewhere keeps it stable)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.qid, item.question, item.reference, item.doc_ids])
                      .encode())
    return digest.hexdigest()[:16]
