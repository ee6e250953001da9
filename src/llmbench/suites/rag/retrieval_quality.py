"""Retrieval quality on every question of the QA set, without generating an answer.

A RAG configuration answers only the profile's first ``questions``; ranking documents costs
milliseconds, so the retrievers that need no generator (``RETRIEVAL_ONLY``) are scored on all
the labelled questions: recall@k, MRR and nDCG, with each question's ranking kept in the result
(``rankings``: compared question by question, e.g. the share whose first document differs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from llmbench.profiles import RagSettings
from llmbench.regression.results import Result, info, quality, seeded_on
from llmbench.suites.rag.data import Corpus, QAItem, RagDataError
from llmbench.suites.rag.rankings import Ranking, as_dicts, mean_scores
from llmbench.suites.rag.retrievers import Retriever, build_retriever

# Retrievers whose ranking involves no LLM call (multi-query's variants are generated: its
# retrieval metrics come with the answered questions of test_rag).
RETRIEVAL_ONLY = ("dense", "bm25", "ensemble")


def rank_questions(retriever: Retriever, items: Sequence[QAItem]) -> list[Ranking]:
    rankings = []
    for item in items:
        passages = retriever.retrieve(item.question).passages
        retrieved = tuple(dict.fromkeys(p.doc_id for p in passages))
        rankings.append(Ranking(item.qid, tuple(item.doc_ids), retrieved))
    return rankings


def labelled_questions(settings: RagSettings, corpus_dir: str | Path | None = None,
                       qa_path: str | Path | None = None) -> tuple[Corpus, tuple[QAItem, ...]]:
    """The corpus and every question with labelled documents (not only the answered ones)."""
    from llmbench.suites.rag.pipeline import load_data

    corpus, items = load_data(replace(settings, questions=None), corpus_dir, qa_path)
    return corpus, tuple(item for item in items if item.doc_ids)


def rank_all(settings: RagSettings, names: Sequence[str], *, device: str = "cpu",
             corpus_dir: str | Path | None = None, qa_path: str | Path | None = None
             ) -> dict[str, list[Ranking]]:
    """Every labelled question ranked by each retriever of ``names`` (from ``RETRIEVAL_ONLY``)."""
    corpus, items = labelled_questions(settings, corpus_dir, qa_path)
    return {name: rank_questions(_retriever(settings, name, corpus, device), items)
            for name in names}


def _retriever(settings: RagSettings, name: str, corpus: Corpus, device: str) -> Retriever:
    if name not in RETRIEVAL_ONLY:
        raise ValueError(f"retriever {name!r} needs a generator; retrieval alone is measured "
                         f"for {', '.join(RETRIEVAL_ONLY)}")
    return build_retriever(name, corpus, k=settings.k, embedder=settings.embedder,
                           device=device, ensemble_weights=settings.ensemble_weights,
                           rrf_c=settings.rrf_c)


def retrieval_quality(settings: RagSettings, name: str, *, device: str = "cpu",
                      corpus_dir: str | Path | None = None, qa_path: str | Path | None = None
                      ) -> Result:
    """Retriever ``name`` scored on every labelled question (suite ``rag``)."""
    from llmbench.suites.rag.pipeline import SUITE, retrieval_params

    corpus, items = labelled_questions(settings, corpus_dir, qa_path)
    if not items:
        raise RagDataError("no question of the QA set names its documents (doc_ids): retrieval "
                           "quality needs labelled questions")
    rankings = rank_questions(_retriever(settings, name, corpus, device), items)
    result = Result(SUITE, {**retrieval_params(settings, name, corpus.digest, items),
                            "evaluation": "retrieval only, every labelled question"})
    for metric, value in mean_scores(rankings).items():
        result.add(metric, quality(value, "score", "higher", kind="retrieval_score",
                                   device=device, determinism=seeded_on(device)))
    result.add("questions", info(len(rankings), "questions"))
    result.artifacts = {
        "retrieval": {"retriever": name, "k": settings.k, "questions": len(rankings)},
        "rankings": as_dicts(rankings),
    }
    return result
