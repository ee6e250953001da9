"""How well a judge separates right from wrong answers: AUC on labelled answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmbench.judges.openevals_judge import FEEDBACK_KEYS, Judge

# AUC moves in steps of 1/(right x wrong answers); a deterministic judge repeats it exactly.
AUC_ABS_TOL = 0.05


_DISCRIMINATION_MEMO: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}


def measure_discrimination(judge: Judge, qa: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """AUC of the judge's scores on labelled answers, per feedback key.

    For every (question, reference): the right answer is the reference itself, the wrong one the
    reference of the question half the list away (an unrelated answer). AUC is the probability
    that a right answer outscores a wrong one (0.5 = chance, 1 = perfect). Memoized per judge
    and QA list, so every configuration of a session reuses one measurement.
    """
    memo_key = (judge.spec, tuple(qa))
    if memo_key in _DISCRIMINATION_MEMO:
        return _DISCRIMINATION_MEMO[memo_key]
    if len(qa) < 2:
        raise ValueError("measuring the judge's discrimination needs at least two questions")
    from sklearn.metrics import roc_auc_score

    shift = len(qa) // 2
    found: dict[str, Any] = {}
    for key in FEEDBACK_KEYS:
        right = [judge.judge(key, q, ref, ref).score for q, ref in qa]
        wrong = [judge.judge(key, q, qa[(i + shift) % len(qa)][1], ref).score
                 for i, (q, ref) in enumerate(qa)]
        pos = [s for s in right if s is not None]
        neg = [s for s in wrong if s is not None]
        auc = (float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg))
               if pos and neg else None)
        found[key] = {
            "auc": auc, "pairs": len(qa),
            "mean_right": sum(pos) / len(pos) if pos else None,
            "mean_wrong": sum(neg) / len(neg) if neg else None,
            "right": right, "wrong": wrong,
        }
    _DISCRIMINATION_MEMO[memo_key] = found
    return found


def auc_verdict(auc: float) -> str:
    if auc >= 0.8:
        return "separates right from wrong answers well"
    if auc >= 0.6:
        return "separates right from wrong answers only loosely"
    return "does not separate right from wrong answers better than chance"


def discrimination_note(judge: Judge, found: Mapping[str, Any]) -> str:
    parts = []
    for key, row in found.items():
        if row["auc"] is None:
            parts.append(f"{key}: AUC unavailable (unscored)")
        else:
            parts.append(f"{key} AUC {row['auc']:.2f}, {auc_verdict(row['auc'])} (mean score "
                         f"{row['mean_right']:.3f} right vs {row['mean_wrong']:.3f} wrong)")
    text = (f"judge {judge.spec} on {next(iter(found.values()))['pairs']} right/wrong answer "
            "pairs from this QA set (right = the reference answer, wrong = another question's; "
            "AUC 0.5 = chance): " + "; ".join(parts) + ".")
    if judge.yes_no:
        text += (" The offline judge is weak: P(yes) of a 135M model, no reasoning. Read its "
                 "correctness/helpfulness as a smoke signal that the columns work, not as a "
                 "quality measurement; use --judge openai:<model> for judgments you can trust.")
    return text

