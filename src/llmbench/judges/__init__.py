"""Judges: LLM-as-judge scoring of answers, behind openevals' evaluator interface.

* ``errors`` -- what can go wrong, by exception type.
* ``offline`` -- local judges that need no network (the bundled SmolLM2-135M).
* ``openevals_judge`` -- ``make_judge(spec)``: one openevals evaluator per feedback key, retries.
* ``scoring`` -- judging every answer of a RAG configuration, aggregated into metrics.
* ``discrimination`` -- how well a judge separates right from wrong answers (AUC).

May import: ``llmbench.core``, ``llmbench.regression``, ``llmbench.sources``, ``llmbench.measure``.
"""

from llmbench.judges.discrimination import (
    AUC_ABS_TOL,
    auc_verdict,
    discrimination_note,
    measure_discrimination,
)
from llmbench.judges.errors import JudgeError, JudgeUnavailable, UnknownJudgeError, UnscoredReply
from llmbench.judges.openevals_judge import (
    FEEDBACK_KEYS,
    NO_JUDGE,
    OFFLINE_JUDGE,
    OPENAI_PREFIX,
    Judge,
    Judgment,
    cached_judge,
    make_judge,
)
from llmbench.judges.scoring import (
    TOLERANCE_FLOOR,
    UNMEASURED_TOLERANCE,
    JudgeOutcome,
    judge_records,
    rag_judge,
    record_field,
    sample_std,
    score_tolerance,
)

__all__ = ["AUC_ABS_TOL", "FEEDBACK_KEYS", "NO_JUDGE", "OFFLINE_JUDGE", "OPENAI_PREFIX",
           "TOLERANCE_FLOOR", "UNMEASURED_TOLERANCE", "Judge", "JudgeError", "JudgeOutcome",
           "JudgeUnavailable", "Judgment", "UnknownJudgeError", "UnscoredReply",
           "auc_verdict", "cached_judge", "discrimination_note", "judge_records", "make_judge",
           "measure_discrimination", "rag_judge", "record_field", "sample_std",
           "score_tolerance"]
