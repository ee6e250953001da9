"""Shared helpers of the judge study: the labelled set, AUCs, Spearman, a results file."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from llmbench.core.fixtures import fixture_path
from llmbench.judges.labelled import ANSWERING, GRADES, NOT_ANSWERING, load_judge_pairs

HERE = Path(__file__).resolve().parent


def items(limit: int | None = None):
    found = load_judge_pairs(fixture_path("rag/judge_pairs.jsonl"))
    return found[:limit] if limit else found


def auc(pos, neg):
    pos = [p for p in pos if p is not None]
    neg = [n for n in neg if n is not None]
    if not pos or not neg:
        return None
    return float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg))


def figures(correctness: dict[str, list], helpfulness: dict[str, list] | None) -> dict:
    """correctness/helpfulness: kind -> scores per item (None where the item lacks the kind)."""
    out = {}
    if correctness:
        c = correctness
        out["c_right_vs_wrong"] = auc(c["right"], c["wrong"])
        out["c_right_vs_offtopic"] = auc(c["right"], c["offtopic"])
        out["c_right_vs_evasive"] = auc(c["right"], c["evasive"])
        xs, ys = [], []
        for kind, scores in c.items():
            for s in scores:
                if s is not None:
                    xs.append(s)
                    ys.append(GRADES[kind])
        out["c_spearman"] = float(spearmanr(xs, ys).statistic)
    if helpfulness:
        h = helpfulness
        answers = [s for k in ANSWERING for s in h[k]]
        out["h_answer_vs_evasive"] = auc(answers, h["evasive"])
        out["h_answer_vs_offtopic"] = auc(answers, h["offtopic"])
        out["h_answer_vs_non"] = auc(answers, [s for k in NOT_ANSWERING for s in h[k]])
    return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v)
            for k, v in out.items()}


def save(name: str, row: dict) -> None:
    path = HERE / "results" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(row, indent=1) + "\n")
    print(name, {k: v for k, v in row.items() if k not in ("scores",)}, file=sys.stderr)
