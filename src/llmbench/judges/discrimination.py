"""How well a judge tells answers apart: AUCs and a rank correlation on labelled answers.

The labelled answers come from ``llmbench.judges.labelled`` (the shipped
``fixtures/rag/judge_pairs.jsonl`` or ``--judge-pairs FILE``). Each pair type compares the
scores of one group of answers with another's; its AUC is the probability that an answer of the
first group outscores one of the second (0.5 = chance, 1 = perfect). A pair type is measured
only when the set has both of its groups.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbench.judges.labelled import ANSWER_KINDS, ANSWERING, GRADES, LabelledItem, pairs_digest
from llmbench.judges.openevals_judge import FEEDBACK_KEYS

# AUC moves in steps of 1/(positives x negatives); a deterministic judge repeats it exactly.
AUC_ABS_TOL = 0.05
# Below this AUC a pair type is reported as not separated by the judge (summary, terminal).
WEAK_AUC = 0.7


@dataclass(frozen=True)
class PairType:
    key: str  # the feedback key whose scores are compared
    positive: tuple[str, ...]  # answer kinds that should score higher
    negative: tuple[str, ...]
    label: str  # for people: "right vs near-miss"


PAIR_TYPES: dict[str, PairType] = {
    "correctness_right_vs_wrong": PairType("correctness", ("right",), ("wrong",),
                                           "correctness: right vs near-miss"),
    "correctness_right_vs_offtopic": PairType("correctness", ("right",), ("offtopic",),
                                              "correctness: right vs off-topic"),
    "helpfulness_answer_vs_evasive": PairType("helpfulness", ANSWERING, ("evasive",),
                                              "helpfulness: answer vs evasive"),
    "helpfulness_answer_vs_offtopic": PairType("helpfulness", ANSWERING, ("offtopic",),
                                               "helpfulness: answer vs off-topic"),
}


@dataclass
class Discrimination:
    """A judge's scores on a labelled set, and what they separate."""

    spec: str
    digest: str  # of the labelled answers
    items: int
    aucs: dict[str, float | None]  # pair type -> AUC (None: the set lacks one of its groups)
    spearman: float | None  # correctness scores vs the graded label (GRADES)
    scores: dict[str, dict[str, list[float | None]]]  # key -> kind -> score per item
    judgments: int
    unscored: int
    seconds: float  # wall time of all judgments
    cpu_seconds: float  # CPU time of this process meanwhile (a starved run shows wall >> cpu)
    pairs_counted: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def seconds_per_judgment(self) -> float:
        return self.seconds / max(self.judgments, 1)

    def mean_score(self, key: str, kind: str) -> float | None:
        values = [s for s in self.scores.get(key, {}).get(kind, []) if s is not None]
        return sum(values) / len(values) if values else None

    def weak(self, threshold: float = WEAK_AUC) -> dict[str, float]:
        return {name: auc for name, auc in self.aucs.items()
                if auc is not None and auc < threshold}

    def to_dict(self) -> dict[str, Any]:
        """The JSON a result carries (artifacts): AUCs, counts and means; no per-item scores."""
        return {
            "spec": self.spec, "pairs_digest": self.digest, "items": self.items,
            "aucs": dict(self.aucs), "spearman_correctness_grade": self.spearman,
            "pairs": {name: list(n) for name, n in self.pairs_counted.items()},
            "mean_scores": {key: {kind: self.mean_score(key, kind) for kind in kinds}
                            for key, kinds in self.scores.items()},
            "judgments": self.judgments, "unscored": self.unscored,
            "seconds_per_judgment": self.seconds_per_judgment,
        }


def judge_all(judge: Any, key: str, triples: Sequence[tuple[str, str, str | None]]
              ) -> list[Any]:
    """Judgments of (question, answer, reference) triples: batched where the judge can."""
    many = getattr(judge, "judge_many", None)
    if many is not None:
        return many(key, triples)
    return [judge.judge(key, q, a, ref) for q, a, ref in triples]


def score_items(judge: Any, items: Sequence[LabelledItem]
                ) -> tuple[dict[str, dict[str, list[float | None]]], int, int]:
    """Every answer of every item, judged for every feedback key; (scores, judged, unscored)."""
    scores: dict[str, dict[str, list[float | None]]] = {}
    judged = unscored = 0
    for key in FEEDBACK_KEYS:
        slots = [(i, kind) for i, item in enumerate(items) for kind in ANSWER_KINDS
                 if kind in item.answers]
        triples = [(items[i].question, items[i].answers[kind], items[i].reference)
                   for i, kind in slots]
        judgments = judge_all(judge, key, triples)
        by_kind: dict[str, list[float | None]] = {k: [None] * len(items) for k in ANSWER_KINDS}
        for (i, kind), judgment in zip(slots, judgments):
            by_kind[kind][i] = judgment.score
            unscored += judgment.score is None
        judged += len(slots)
        scores[key] = by_kind
    return scores, judged, unscored


def auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    if not positive or not negative:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([1] * len(positive) + [0] * len(negative),
                               list(positive) + list(negative)))


def spearman(scores: Mapping[str, Sequence[float | None]]) -> float | None:
    """Rank correlation of correctness scores with the graded label; None without two grades."""
    xs = [s for kind in ANSWER_KINDS for s in scores.get(kind, []) if s is not None]
    ys = [GRADES[kind] for kind in ANSWER_KINDS for s in scores.get(kind, []) if s is not None]
    if len(set(ys)) < 2 or len(set(xs)) < 2:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(xs, ys).statistic)


_MEMO: dict[tuple[str, str], Discrimination] = {}


def measure_discrimination(judge: Any, items: Sequence[LabelledItem], *,
                           memo: bool = True) -> Discrimination:
    """Judge every labelled answer and compute each pair type's AUC present in ``items``.

    Memoized per judge spec and labelled set: every RAG configuration of a session reuses one
    measurement. ``memo=False`` (the judge-quality benchmark, which times it) measures afresh,
    and leaves its measurement for the RAG configurations that follow.
    """
    if not items:
        raise ValueError("measuring a judge needs at least one labelled question")
    digest = pairs_digest(items)
    memo_key = (judge.spec, digest)
    if memo and memo_key in _MEMO:
        return _MEMO[memo_key]
    wall, cpu = time.perf_counter(), time.process_time()
    scores, judged, unscored = score_items(judge, items)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    aucs: dict[str, float | None] = {}
    counted: dict[str, tuple[int, int]] = {}
    for name, pair in PAIR_TYPES.items():
        by_kind = scores[pair.key]
        pos = [s for kind in pair.positive for s in by_kind[kind] if s is not None]
        neg = [s for kind in pair.negative for s in by_kind[kind] if s is not None]
        aucs[name] = auc(pos, neg)
        counted[name] = (len(pos), len(neg))
    found = Discrimination(judge.spec, digest, len(items), aucs, spearman(scores["correctness"]),
                           scores, judged, unscored, wall, cpu, counted)
    _MEMO[memo_key] = found
    return found


def auc_verdict(value: float) -> str:
    if value >= 0.8:
        return "separates them well"
    if value >= WEAK_AUC:
        return "separates them only loosely"
    return "does not separate them reliably"


def discrimination_note(found: Discrimination) -> str:
    """One sentence per measured pair type, for a result's notes."""
    parts = [f"{PAIR_TYPES[name].label} AUC {value:.2f} ({auc_verdict(value)})"
             for name, value in found.aucs.items() if value is not None]
    missing = [PAIR_TYPES[name].label for name, value in found.aucs.items() if value is None]
    text = (f"judge {found.spec} on {found.items} labelled questions ({found.digest}; AUC 0.5 = "
            "chance): " + "; ".join(parts) + ".")
    if missing:
        text += " Not measured (the labelled set lacks them): " + ", ".join(missing) + "."
    weak = found.weak()
    if weak:
        text += (f" Below {WEAK_AUC:.1f}: "
                 + ", ".join(PAIR_TYPES[name].label for name in weak)
                 + " -- read those scores as a rough signal, not a measurement.")
    return text
