"""One judge measured on labelled answers: how well its scores separate them, what it costs.

``run_judge_quality(settings, judge_spec)`` loads the labelled set (the shipped
``fixtures/rag/judge_pairs.jsonl`` or ``pairs_path``), judges every answer for every feedback
key and returns a ``Result`` (suite ``judge``):

* ``auc_<pair type>`` -- correctness: right vs near-miss, right vs off-topic; helpfulness:
  answers (right, partial, near-miss) vs evasive, vs off-topic. Only the pair types the set has.
* ``spearman_correctness_grade`` -- rank correlation of correctness with the graded label.
* ``seconds_per_judgment`` (cost) and its CPU-time twin (info: a starved run shows wall >> cpu).
* ``repeat_max_abs_diff`` -- the first ``settings.determinism_items`` questions judged twice
  more from scratch: the largest score difference (0 for a deterministic judge).
* per answer kind, the mean score (info), and the unscored judgments (info).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmbench.core.fixtures import fixture_path
from llmbench.core.specs import FIXTURES_PREFIX, is_remote
from llmbench.judges import cached_judge
from llmbench.judges.discrimination import (
    AUC_ABS_TOL,
    PAIR_TYPES,
    discrimination_note,
    measure_discrimination,
    score_items,
)
from llmbench.judges.labelled import ANSWER_KINDS, kind_counts, load_judge_pairs
from llmbench.judges.scoring import recipe_digest
from llmbench.profiles import JudgeSettings
from llmbench.regression.results import Determinism, Result, cost, info, quality

SUITE = "judge"
SPEARMAN_ABS_TOL = AUC_ABS_TOL
# A deterministic judge repeats its scores bit for bit; anything above this is a change.
REPEAT_DIFF_ABS_TOL = 1e-6
# A remote judge varies from call to call; its repeat difference is recorded, loosely compared.
REMOTE_REPEAT_DIFF_ABS_TOL = 0.5
COST_REL_TOL = 1.0  # CPU timings on a shared machine are noisy


def pairs_file(spec: str | Path) -> Path:
    """``fixtures:<path>`` names data llmbench ships; anything else is a path."""
    if isinstance(spec, str) and spec.startswith(FIXTURES_PREFIX):
        return fixture_path(spec[len(FIXTURES_PREFIX):])
    return Path(spec)


def load_items(settings: JudgeSettings, pairs_path: str | Path | None = None):
    items = load_judge_pairs(pairs_file(pairs_path or settings.pairs))
    return items[:settings.items] if settings.items is not None else items


def run_judge_quality(settings: JudgeSettings, judge_spec: str, *,
                      pairs_path: str | Path | None = None, judge: Any = None) -> Result:
    """Measure ``judge_spec`` (or a ready ``judge``) on the labelled set of ``settings``."""
    items = load_items(settings, pairs_path)
    judge = judge or cached_judge(judge_spec)
    forget = getattr(judge, "forget", None)
    if forget is not None:  # every run is timed from cold: repeats measure the same work
        forget()
    # The per-question terms it memoizes here are the RAG configurations' (same questions and
    # references in the shipped data): they are computed one at a time, so reusing them
    # changes no score.
    found = measure_discrimination(judge, items, memo=False)
    deterministic = bool(getattr(judge, "deterministic", False))
    determinism = Determinism.SEEDED if deterministic else Determinism.NOISY

    result = Result(SUITE, _params(settings, judge, found.digest, items))
    for name, value in found.aucs.items():
        if value is not None:
            result.add(f"auc_{name}", quality(value, "", "higher", abs_tol=AUC_ABS_TOL,
                                              determinism=determinism))
    if found.spearman is not None:
        result.add("spearman_correctness_grade",
                   quality(found.spearman, "", "higher", abs_tol=SPEARMAN_ABS_TOL,
                           determinism=determinism))
    result.add("seconds_per_judgment", cost(found.seconds_per_judgment, "s",
                                            rel_tol=COST_REL_TOL))
    result.add("cpu_seconds_per_judgment", info(found.cpu_seconds / max(found.judgments, 1),
                                                "s"))
    result.add("judgments", info(found.judgments, "judgments"))
    result.add("unscored", info(found.unscored, "judgments"))
    for key in found.scores:
        for kind in ANSWER_KINDS:
            mean = found.mean_score(key, kind)
            if mean is not None:
                result.add(f"mean_{key}_{kind}", info(mean, "score"))

    repeat = _repeat_difference(judge, items[:settings.determinism_items])
    if repeat is not None:
        tol = REPEAT_DIFF_ABS_TOL if deterministic else REMOTE_REPEAT_DIFF_ABS_TOL
        result.add("repeat_max_abs_diff", quality(repeat, "score", "lower", abs_tol=tol,
                                                  determinism=determinism))
    result.artifacts = {
        "judge": found.to_dict(),
        "describe": _describe(judge),
        "pair_types": {name: {"key": p.key, "positive": list(p.positive),
                              "negative": list(p.negative), "label": p.label}
                       for name, p in PAIR_TYPES.items()},
        "kinds": kind_counts(items),
        "scores": found.scores,
        "questions": [item.qid for item in items],
    }
    result.notes.append(discrimination_note(found))
    return result


def _repeat_difference(judge: Any, items) -> float | None:
    """Judge ``items`` twice from scratch; the largest score difference between the runs."""
    if not items:
        return None
    fresh = getattr(judge, "fresh", None)  # nothing memoized: really recompute
    runs = [score_items(fresh() if fresh is not None else judge, items)[0] for _ in range(2)]
    diffs = [abs(a - b) for key in runs[0] for kind in runs[0][key]
             for a, b in zip(runs[0][key][kind], runs[1][key][kind])
             if a is not None and b is not None]
    return max(diffs) if diffs else None


def _describe(judge: Any) -> dict[str, Any]:
    describe = getattr(judge, "describe", None)
    return describe() if describe is not None else {"spec": judge.spec}


def _params(settings: JudgeSettings, judge: Any, digest: str, items) -> dict[str, Any]:
    """What defines this measurement: the judge (and its scoring recipe) and the labelled set."""
    return {
        "judge": judge.spec,
        "judge_recipe": recipe_digest(judge) if hasattr(judge, "describe") else None,
        "pairs_digest": digest,
        "questions": len(items),
        "determinism_items": settings.determinism_items,
        "remote": is_remote(judge.spec),
    }
