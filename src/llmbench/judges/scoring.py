"""Judging a RAG configuration's answers: every answer, every feedback key, ``repeats`` times.

With ``repeats > 1`` every answer is judged that many times; the per-question scores and their
spread (sample standard deviation across repeats) go into the result. See ``score_tolerance``.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbench.core.tracing import plain_inputs, traceable
from llmbench.judges.discrimination import AUC_ABS_TOL, discrimination_note, measure_discrimination
from llmbench.judges.openevals_judge import FEEDBACK_KEYS, NO_JUDGE, Judge, Judgment, cached_judge
from llmbench.regression.results import Metric, info, quality

# Judge score tolerance: three standard errors of the difference between two runs' means,
# never below this floor (float differences between CPUs, a greedy answer changed by a token).
TOLERANCE_FLOOR = 0.02
TOLERANCE_SIGMAS = 3.0
UNMEASURED_TOLERANCE = 0.1  # a judge that varies run to run, judged once per answer


@dataclass
class JudgeOutcome:
    """What a judge adds to a configuration's result."""

    metrics: dict[str, Metric]
    params: dict[str, Any] = field(default_factory=dict)  # define the benchmark: spec, repeats
    artifacts: dict[str, Any] = field(default_factory=dict)  # per-question scores, spread
    notes: list[str] = field(default_factory=list)




def record_field(record: Any, name: str, default: Any = None) -> Any:
    """``name`` of a per-question record: a mapping or an object (the pipeline's dataclass)."""
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def sample_std(values: Sequence[float]) -> float | None:
    """Sample standard deviation (ddof=1); None with fewer than two values."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def score_tolerance(per_question: Sequence[Sequence[float]], *, deterministic: bool = False
                    ) -> tuple[float, float | None]:
    """``(abs_tol, standard error)`` for the mean score of one run from per-question repeats.

    The noise of one judgment is estimated by the mean within-question variance across repeats;
    one run's mean over Q questions with R repeats each has standard error sqrt(var / (Q * R)),
    and two runs differ by sqrt(2) times that. The tolerance is ``TOLERANCE_SIGMAS`` of that
    difference, never below ``TOLERANCE_FLOOR``. Without repeats the spread is unmeasured: a
    deterministic judge gets the floor, any other ``UNMEASURED_TOLERANCE``.
    """
    variances = [s ** 2 for s in map(sample_std, per_question) if s is not None]
    if not variances:
        return (TOLERANCE_FLOOR if deterministic else UNMEASURED_TOLERANCE), None
    judgments = sum(len(scores) for scores in per_question)
    stderr = math.sqrt(sum(variances) / len(variances) / judgments)
    return max(TOLERANCE_FLOOR, TOLERANCE_SIGMAS * math.sqrt(2) * stderr), stderr


def rag_judge(spec: str, repeats: int = 1) -> Callable[[Sequence[Any]], JudgeOutcome] | None:
    """The ``judge`` argument of ``run_rag_benchmark`` for ``--judge SPEC``; None for "none".

    Builds the judge now, so an unknown spec (``UnknownJudgeError``) or a missing API key
    (``JudgeUnavailable``: skip) surfaces before any answer is generated."""
    if spec == NO_JUDGE:
        return None
    if repeats < 1:
        raise ValueError(f"--judge-repeats must be >= 1, got {repeats}")
    judge = cached_judge(spec)
    return functools.partial(judge_records, judge_spec=spec, repeats=repeats, judge=judge)


def judge_records(records: Sequence[Any], judge_spec: str, repeats: int = 1, *,
                  judge: Judge | None = None, discrimination: bool = True) -> JudgeOutcome:
    """Judge every record's answer ``repeats`` times for each feedback key.

    A record is a mapping or object with ``question``, ``answer`` and ``reference`` (the RAG
    pipeline's ``QuestionRecord``). Returns the metrics (mean correctness / helpfulness over the
    scored questions with a tolerance from the measured spread, unscored counts, the judge's AUC
    on this QA set), the params that define the judging (spec, repeats), the artifacts
    (per-question scores and spread) and notes.
    """
    if repeats < 1:
        raise ValueError(f"--judge-repeats must be >= 1, got {repeats}")
    if not records:
        raise ValueError("no records to judge")
    judge = judge or cached_judge(judge_spec)
    metrics: dict[str, Metric] = {}
    per_key: dict[str, Any] = {}
    seconds: list[float] = []
    for key in FEEDBACK_KEYS:
        rows = []
        for record in records:
            question, answer, reference = (record_field(record, name)
                                           for name in ("question", "answer", "reference"))
            judgments = [traced_judgment(judge, key, question, answer, reference)
                         for _ in range(repeats)]
            seconds.extend(j.seconds for j in judgments)
            rows.append(judgments)
        per_key[key] = _summarize_key(key, rows, metrics, judge.deterministic)

    artifacts: dict[str, Any] = {
        "spec": judge.spec, "repeats": repeats, "deterministic": judge.deterministic,
        "feedback": per_key,
        "questions": [record_field(r, "question") for r in records],
        "seconds_per_judgment": sum(seconds) / len(seconds),
    }
    metrics["judge_seconds_per_judgment"] = info(artifacts["seconds_per_judgment"], "s")
    notes: list[str] = []
    if repeats == 1 and not judge.deterministic:
        notes.append(f"judge {judge.spec} ran once per answer: its spread is unmeasured, so the "
                     f"judge scores get a wide tolerance ({UNMEASURED_TOLERANCE}); use "
                     "--judge-repeats 3 to measure it.")
    if discrimination and len(records) < 2:
        notes.append(f"judge {judge.spec}: its AUC needs at least two questions; not measured.")
    elif discrimination:
        qa = [(record_field(r, "question"), record_field(r, "reference")) for r in records]
        found = measure_discrimination(judge, qa)
        artifacts["discrimination"] = found
        for key, row in found.items():
            if row["auc"] is not None:
                metrics[f"judge_auc_{key}"] = quality(row["auc"], "", "higher",
                                                      abs_tol=AUC_ABS_TOL)
        notes.append(discrimination_note(judge, found))
    artifacts["structured_output"] = judge.structured_output  # openai: the negotiated mode
    notes += judge.notes()
    return JudgeOutcome(metrics, {"spec": judge.spec, "repeats": repeats}, artifacts, notes)


def _judgment_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    # The Judge holds the API client (and so the key): record only its spec.
    return {**plain_inputs(inputs), "judge": inputs["judge"].spec}


@traceable(name="judge", run_type="chain", process_inputs=_judgment_inputs)
def traced_judgment(judge: Judge, key: str, question: str, answer: str,
                    reference: str | None) -> Judgment:
    return judge.judge(key, question, answer, reference)


def _summarize_key(key: str, rows: list[list[Judgment]], metrics: dict[str, Metric],
                   deterministic: bool) -> dict[str, Any]:
    scored = [[j.score for j in row if j.score is not None] for row in rows]
    means = [sum(s) / len(s) if s else None for s in scored]
    valid = [m for m in means if m is not None]
    unscored_questions = sum(m is None for m in means)
    failures = Counter(j.error for row in rows for j in row if j.score is None)
    abs_tol, stderr = score_tolerance([s for s in scored if s], deterministic=deterministic)
    mean = sum(valid) / len(valid) if valid else math.nan
    metrics[key] = quality(mean, "", "higher", abs_tol=abs_tol)
    metrics[f"{key}_unscored"] = info(unscored_questions, "questions")
    spreads = [sample_std(s) for s in scored]
    measured = [s for s in spreads if s is not None]
    if measured:
        metrics[f"{key}_spread"] = info(sum(measured) / len(measured), "")
    return {
        "scores": [[j.score for j in row] for row in rows],
        "mean_per_question": means,
        "spread_per_question": spreads,
        "comments": [next((j.comment for j in row if j.score is not None), "")[:500]
                     for row in rows],
        "unscored_questions": unscored_questions,
        "unscored_judgments": sum(failures.values()),
        "unscored_reasons": dict(failures),
        "stderr": stderr,
        "tolerance": abs_tol,
    }

