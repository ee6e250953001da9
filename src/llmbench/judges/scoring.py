"""Judging a RAG configuration's answers: every answer, every feedback key, ``repeats`` times.

Judge scores are ordinary metrics: the mean score over the questions, with the declared
tolerance ``JUDGE_SCORE_ABS_TOL``; with ``repeats > 1`` each repeat's mean is a sample, and the
plugin's one comparison rule decides what moved. Each question's score is kept too
(``Metric.items``): a noisy judge's scores are compared with the baseline's question by question. The result also records which judge scored it
and that judge's AUCs on the labelled answers (``discrimination``, measured once per process),
so a reader sees how far the scores can be trusted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbench.core.tracing import plain_inputs, traceable
from llmbench.judges.discrimination import (
    Discrimination,
    discrimination_note,
    judge_all,
    measure_discrimination,
)
from llmbench.judges.labelled import LabelledItem
from llmbench.judges.openevals_judge import FEEDBACK_KEYS, NO_JUDGE, Judgment, cached_judge
from llmbench.regression.results import Metric, info, quality

# Mean judge score over a QA set: a declared tolerance (the plugin compares every metric alike).
JUDGE_SCORE_ABS_TOL = 0.05


@dataclass
class JudgeOutcome:
    """What a judge adds to a configuration's result."""

    metrics: dict[str, Metric]
    params: dict[str, Any] = field(default_factory=dict)  # define the benchmark: spec, repeats
    artifacts: dict[str, Any] = field(default_factory=dict)  # per-question scores, judge AUCs
    notes: list[str] = field(default_factory=list)


def record_field(record: Any, name: str, default: Any = None) -> Any:
    """``name`` of a per-question record: a mapping or an object (the pipeline's dataclass)."""
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def sample_std(values: Sequence[float]) -> float | None:
    """Sample standard deviation (ddof=1); None with fewer than two values."""
    return statistics.stdev(values) if len(values) >= 2 else None


def rag_judge(spec: str, repeats: int = 1, *, labelled: Sequence[LabelledItem] | None = None,
              device: str = "cpu") -> Callable[[Sequence[Any]], JudgeOutcome] | None:
    """The ``judge`` argument of ``run_rag_benchmark`` for ``--judge SPEC``; None for "none".
    An offline judge runs on ``device``, the configuration's own.

    Builds the judge now, so an unknown spec (``UnknownJudgeError``) or a missing API key
    (``JudgeUnavailable``: skip) surfaces before any answer is generated. ``labelled``: the
    answers the judge's AUCs are measured on (recorded with every result)."""
    if spec == NO_JUDGE:
        return None
    if repeats < 1:
        raise ValueError(f"--judge-repeats must be >= 1, got {repeats}")
    judge = cached_judge(spec, device)
    return functools.partial(judge_records, judge_spec=spec, repeats=repeats, judge=judge,
                             labelled=labelled)


def judge_records(records: Sequence[Any], judge_spec: str, repeats: int = 1, *,
                  judge: Any = None, labelled: Sequence[LabelledItem] | None = None
                  ) -> JudgeOutcome:
    """Judge every record's answer ``repeats`` times for each feedback key.

    A record is a mapping or object with ``question``, ``answer`` and ``reference`` (the RAG
    pipeline's ``QuestionRecord``). Returns the metrics (mean correctness / helpfulness over the
    scored questions; per-repeat means as samples; unscored counts; the judge's AUCs on
    ``labelled`` as information), the params that define the judging (spec, repeats), the
    artifacts (per-question scores, the judge's measured quality) and notes.
    """
    if repeats < 1:
        raise ValueError(f"--judge-repeats must be >= 1, got {repeats}")
    if not records:
        raise ValueError("no records to judge")
    judge = judge or cached_judge(judge_spec)
    triples = [tuple(record_field(r, name) for name in ("question", "answer", "reference"))
               for r in records]
    metrics: dict[str, Metric] = {}
    per_key: dict[str, Any] = {}
    seconds: list[float] = []
    ids = [record_field(r, "qid") for r in records]
    for key in FEEDBACK_KEYS:
        runs = [traced_judgments(judge, key, triples) for _ in range(repeats)]
        seconds += [j.seconds for run in runs for j in run]
        per_key[key] = _summarize_key(key, runs, metrics, ids)

    artifacts: dict[str, Any] = {
        "spec": judge.spec, "repeats": repeats,
        "deterministic": bool(getattr(judge, "deterministic", False)),
        "feedback": per_key,
        "questions": [record_field(r, "question") for r in records],
        "seconds_per_judgment": sum(seconds) / len(seconds),
    }
    metrics["judge_seconds_per_judgment"] = info(artifacts["seconds_per_judgment"], "s")
    notes: list[str] = []
    if labelled:
        found = measure_discrimination(judge, labelled)
        artifacts["quality"] = found.to_dict()
        metrics.update(auc_metrics(found))
        notes.append(discrimination_note(found))
    # an openai: judge: the structured-output mode negotiated with its endpoint
    artifacts["structured_output"] = getattr(judge, "structured_output", None)
    notes += judge.notes() if hasattr(judge, "notes") else []
    params: dict[str, Any] = {"spec": judge.spec, "repeats": repeats}
    if hasattr(judge, "describe"):  # a new scoring recipe makes old baselines not comparable
        params["recipe"] = recipe_digest(judge)
    return JudgeOutcome(metrics, params, artifacts, notes)


def recipe_digest(judge: Any) -> str:
    """A short hash of what decides a judge's scores (model, templates, weights, calibration)."""
    text = json.dumps(judge.describe(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def auc_metrics(found: Discrimination) -> dict[str, Metric]:
    """The judge's AUCs, recorded with a RAG result (the judge-quality benchmark gates them)."""
    return {f"judge_auc_{name}": info(value, "") for name, value in found.aucs.items()
            if value is not None}


def _judgment_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    # The judge may hold an API client (and so a key): record only its spec.
    return {**plain_inputs(inputs), "judge": inputs["judge"].spec}


@traceable(name="judge", run_type="chain", process_inputs=_judgment_inputs)
def traced_judgments(judge: Any, key: str, triples: Sequence[tuple[Any, ...]]
                     ) -> list[Judgment]:
    return judge_all(judge, key, triples)


def _summarize_key(key: str, runs: list[list[Judgment]], metrics: dict[str, Metric],
                   ids: Sequence[Any] = ()) -> dict[str, Any]:
    """``runs[r][q]``: repeat r's judgment of question q, whose id is ``ids[q]`` (the metric
    then keeps each scored question's mean score, for a paired comparison)."""
    questions = len(runs[0])
    scores = [[run[q].score for run in runs] for q in range(questions)]  # per question
    scored = [[s for s in row if s is not None] for row in scores]
    means = [sum(s) / len(s) if s else None for s in scored]
    valid = [m for m in means if m is not None]
    repeat_means = []
    for run in runs:
        values = [j.score for j in run if j.score is not None]
        if values:
            repeat_means.append(sum(values) / len(values))
    failures = Counter(j.error for run in runs for j in run if j.score is None)
    mean = sum(valid) / len(valid) if valid else math.nan
    metric = quality(mean, "", "higher", abs_tol=JUDGE_SCORE_ABS_TOL)
    if len(runs) > 1 and repeat_means:
        metric.samples = repeat_means
        metric.value = statistics.median(repeat_means)
    if ids and all(qid is not None for qid in ids):
        metric.items = {str(qid): m for qid, m in zip(ids, means) if m is not None} or None
    metrics[key] = metric
    unscored_questions = sum(m is None for m in means)
    metrics[f"{key}_unscored"] = info(unscored_questions, "questions")
    spreads = [sample_std(s) for s in scored]
    measured = [s for s in spreads if s is not None]
    if measured:
        metrics[f"{key}_spread"] = info(sum(measured) / len(measured), "")
    return {
        "scores": scores,
        "mean_per_question": means,
        "spread_per_question": spreads,
        "repeat_means": repeat_means,
        "comments": [next((run[q].comment for run in runs if run[q].score is not None),
                          "")[:500] for q in range(questions)],
        "unscored_questions": unscored_questions,
        "unscored_judgments": sum(failures.values()),
        "unscored_reasons": dict(failures),
    }
