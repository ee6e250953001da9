"""Rankings of labelled questions and what is read from them, without running a retriever.

A ``Ranking`` is one question's labelled documents and the documents a retriever returned, in
order: recall@k, reciprocal rank and nDCG per question and on average, and how often two
retrievers disagree on the first document. Pure (no retriever, no model): the report reads the
rankings a result keeps (``rankings_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.suites.rag import metrics

SCORES = ("recall_at_k", "mrr", "ndcg")


@dataclass(frozen=True)
class Ranking:
    """One question's labelled documents and the documents a retriever returned, in order."""

    qid: str
    relevant: tuple[str, ...]
    retrieved: tuple[str, ...]

    @property
    def top1(self) -> str | None:
        return self.retrieved[0] if self.retrieved else None

    def scores(self) -> dict[str, float]:
        return {"recall_at_k": metrics.recall(self.retrieved, self.relevant),
                "mrr": metrics.reciprocal_rank(self.retrieved, self.relevant),
                "ndcg": metrics.ndcg(self.retrieved, self.relevant)}


def scores_by_question(rankings: Iterable[Ranking]) -> dict[str, dict[str, float]]:
    """Score name -> question id -> score, over the questions with labelled documents."""
    out: dict[str, dict[str, float]] = {name: {} for name in SCORES}
    for ranking in rankings:
        if ranking.relevant:
            for name, value in ranking.scores().items():
                out[name][ranking.qid] = value
    return out


def mean_scores(rankings: Iterable[Ranking]) -> dict[str, float]:
    """Mean recall@k, reciprocal rank and nDCG; {} when no question is labelled."""
    scores = scores_by_question(rankings)
    if not scores["recall_at_k"]:
        return {}
    return {name: sum(values.values()) / len(values) for name, values in scores.items()}


def top1_disagreement(a: Sequence[Ranking], b: Sequence[Ranking]) -> float:
    """Share of the questions both ranked whose first document differs."""
    firsts = {r.qid: r.top1 for r in b}
    shared = [r for r in a if r.qid in firsts]
    if not shared:
        raise ValueError("the two rankings share no question")
    return sum(r.top1 != firsts[r.qid] for r in shared) / len(shared)


def rankings_of(rows: Iterable[Mapping[str, Any]]) -> list[Ranking]:
    """Rankings from the dicts a result keeps (``artifacts["rankings"]``)."""
    return [Ranking(r["qid"], tuple(r["relevant"]), tuple(r["retrieved"])) for r in rows]


def as_dicts(rankings: Iterable[Ranking]) -> list[dict[str, Any]]:
    return [{"qid": r.qid, "relevant": list(r.relevant), "retrieved": list(r.retrieved)}
            for r in rankings]


def table(rankings: Mapping[str, Sequence[Ranking]]) -> str:
    """Markdown: one row per retriever (recall@k, MRR, nDCG) and its top-1 disagreement with
    each other retriever."""
    names = list(rankings)
    header = ["Retriever", "Questions", "Recall@k", "MRR", "nDCG",
              *(f"Top-1 differs from {other}" for other in names)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name in names:
        scores = mean_scores(rankings[name])
        cells = [name, str(len(rankings[name])),
                 *(f"{scores[s]:.3f}" if s in scores else "—" for s in SCORES),
                 *("—" if other == name else
                   f"{top1_disagreement(rankings[name], rankings[other]):.0%}"
                   for other in names)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
