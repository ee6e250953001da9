"""Judges: LLM-as-judge scoring of answers, behind openevals' evaluator interface.

* ``errors`` -- what can go wrong, by exception type.
* ``likelihood`` -- batched token log-probabilities of a local causal LM.
* ``offline`` -- the offline judge (smollm2-135m, hf:<model>): likelihood (PMI) scoring.
* ``openevals_judge`` -- ``make_judge(spec)``: one openevals evaluator per feedback key, retries.
* ``labelled`` -- labelled answers for judging the judges (--judge-pairs), and their validator.
* ``discrimination`` -- how well a judge separates labelled answers (AUC per pair type).
* ``scoring`` -- judging every answer of a RAG configuration, aggregated into metrics.

May import: ``llmbench.core``, ``llmbench.regression``, ``llmbench.sources``, ``llmbench.measure``.
"""

from llmbench.judges.discrimination import (
    AUC_ABS_TOL,
    PAIR_TYPES,
    WEAK_AUC,
    Discrimination,
    auc_verdict,
    discrimination_note,
    measure_discrimination,
)
from llmbench.judges.errors import JudgeError, JudgeUnavailable, UnknownJudgeError, UnscoredReply
from llmbench.judges.labelled import JudgePairsError, LabelledItem, load_judge_pairs
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
    JUDGE_SCORE_ABS_TOL,
    JudgeOutcome,
    judge_records,
    rag_judge,
    record_field,
    sample_std,
)

__all__ = ["AUC_ABS_TOL", "FEEDBACK_KEYS", "JUDGE_SCORE_ABS_TOL", "NO_JUDGE", "OFFLINE_JUDGE",
           "OPENAI_PREFIX", "PAIR_TYPES", "WEAK_AUC", "Discrimination", "Judge", "JudgeError",
           "JudgeOutcome", "JudgePairsError", "JudgeUnavailable", "Judgment", "LabelledItem",
           "UnknownJudgeError", "UnscoredReply", "auc_verdict", "cached_judge",
           "discrimination_note", "judge_records", "load_judge_pairs", "make_judge",
           "measure_discrimination", "rag_judge", "record_field", "sample_std"]
