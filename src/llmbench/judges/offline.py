"""The offline judge: how likely a small local language model finds one text after another.

A 135M chat model cannot follow a judging rubric (asked yes or no, it says "no" to everything;
measured in docs/judge-study), but its likelihoods carry the signal (the GPTScore / BARTScore
family). Log-probabilities are in nats, over the scored text's tokens (summed for
correctness, averaged per token for helpfulness).

**Correctness** is a PMI ratio: how much the answer raises the likelihood of the reference,
as a fraction of how much the reference itself would::

    raw = [log P(ref | q, answer) - log P(ref | q)] / [log P(ref | q, ref) - log P(ref | q)]

1 = the answer informs the reference as well as the reference does; 0 = no better than the
question alone; below 0 = it makes the reference less likely (a near miss that states another
number). The reference is read as a restatement of the answer ("In other words: <reference>").
Dividing by the reference's own gain puts every question on one scale: the plain difference
ordered right above near-miss answers within 57 of 60 questions but only reached AUC 0.63
across them.

**Helpfulness** contrasts two sets of in-context demonstrations (about a made-up library, not
the corpus): replies that answer, and replies that evade. An answer likelier after the answering
demonstrations is an answer; PMI of the answer given the question adds relevance (an off-topic
sentence gains nothing from the question)::

    raw = mean log P(a | answering demos, q) - mean log P(a | evasive demos, q)
          + help_pmi_weight * [mean log P(a | q) - mean log P(a | "Answer:")]

Each raw score is squashed into [0, 1] by a logistic ``Calibration``: ``score = 1 / (1 +
exp(-(raw - center) / scale))``, with constants fitted once by logistic regression on the
shipped labelled set with balanced classes (correctness: right answers vs every other kind;
helpfulness: right, partial and near-miss answers vs evasive and off-topic ones;
docs/judge-study/calibrate.py) and frozen here. The squash is monotone: it changes no AUC. 0.5 means
"as likely good as not" on that set, not a calibrated probability on yours.

Every forward pass is batched (right padding + attention masks, ``TokenLogProbs``); the
demonstrations run once and their key/value cache is reused. The per-question terms (the
reference given the question alone, and given itself) are computed one at a time, so their
values do not depend on what they were batched with, and memoized. The same answers give
bit-identical scores in every run.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from llmbench.core.specs import HF_PREFIX, OFFLINE_JUDGE
from llmbench.judges.errors import JudgeUnavailable
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.judges.openevals_judge import FEEDBACK_KEYS, Judgment


@dataclass(frozen=True)
class Calibration:
    center: float
    scale: float

    def squash(self, raw: float) -> float:
        z = (raw - self.center) / self.scale
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the scores; ``{q}``, ``{a}`` are filled in."""

    with_answer: str = "Question: {q}\nAnswer: {a}\nIn other words:"  # -> " " + ref
    question_only: str = "Question: {q}\nIn other words:"  # -> " " + ref
    correctness_prefix: str = ""
    answer_to_question: str = "Question: {q}\nAnswer:"  # -> " " + a
    answer_alone: str = "Answer:"  # -> " " + a
    answering_demos: str = (
        "Question: When does the library open on Sundays?\nAnswer: It opens at noon on "
        "Sundays.\n\n"
        "Question: How many books can I borrow at once?\nAnswer: You can borrow up to 12 "
        "books.\n\n"
        "Question: Who runs the reading club?\nAnswer: Maria Lenz runs the reading club.\n\n"
        "Question: How much is the late fee?\nAnswer: The late fee is 50 cents per day.\n\n")
    evasive_demos: str = (
        "Question: When does the library open on Sundays?\nAnswer: I'm not sure; please check "
        "the website.\n\n"
        "Question: How many books can I borrow at once?\nAnswer: That depends, ask at the "
        "front desk.\n\n"
        "Question: Who runs the reading club?\nAnswer: I don't know who is in charge of "
        "that.\n\n"
        "Question: How much is the late fee?\nAnswer: Fees change sometimes, so I can't "
        "say.\n\n")
    help_pmi_weight: float = 0.5
    # The reference's own gain is at least this many nats (guards the ratio's denominator).
    self_gain_floor: float = 1.0
    correctness: Calibration = Calibration(center=0.407, scale=0.116)
    helpfulness: Calibration = Calibration(center=0.311, scale=0.215)


DEFAULT_RECIPE = Recipe()


class LikelihoodJudge:
    """An offline judge with the interface of ``openevals_judge.Judge``.

    ``judge(key, question, answer, reference) -> Judgment``, ``judge_many(key, triples)`` (one
    batched pass over many answers) and ``evaluator(key)``: an openevals-compatible evaluator,
    ``evaluator(inputs=..., outputs=..., reference_outputs=...) -> {"key", "score",
    "comment"}``.
    """

    deterministic = True

    def __init__(self, spec: str, scorer: TokenLogProbs, recipe: Recipe = DEFAULT_RECIPE) -> None:
        self.spec = spec
        self.scorer = scorer
        self.recipe = recipe
        self._alone: dict[tuple[str, str, str], float] = {}  # per-question terms, memoized

    def describe(self) -> dict[str, Any]:
        """What decides this judge's scores (a benchmark param hashes it)."""
        return {"spec": self.spec, "kind": "likelihood (PMI)", "model": self.scorer.name,
                "recipe": asdict(self.recipe)}

    def forget(self) -> None:
        """Drop memoized terms and prefix caches, so the next judgments recompute everything."""
        self._alone.clear()
        self.scorer.forget()

    def fresh(self) -> LikelihoodJudge:
        """The same judge with nothing memoized, sharing the loaded model: judgments from it
        recompute everything, and this judge keeps what it has memoized."""
        return LikelihoodJudge(self.spec, self.scorer.fresh(), self.recipe)

    # -- scoring ------------------------------------------------------------------------------

    def _alone_sums(self, pairs: Sequence[tuple[str, str]], prefix: str) -> list[float]:
        """Summed log-probs of pairs computed one at a time (batch-independent), memoized."""
        for pair in dict.fromkeys(pairs):
            if (prefix, *pair) not in self._alone:
                self._alone[(prefix, *pair)] = sum(self.scorer([pair], prefix=prefix)[0])
        return [self._alone[(prefix, *p)] for p in pairs]

    def correctness_raw(self, triples: Sequence[tuple[str, str, str]]) -> list[float]:
        r = self.recipe
        for q, _, ref in triples:
            if not ref or not ref.strip():
                raise ValueError(f"correctness needs a reference answer (question {q[:60]!r})")
        given = self.scorer([(r.with_answer.format(q=q, a=a), " " + ref)
                             for q, a, ref in triples], prefix=r.correctness_prefix)
        alone = self._alone_sums([(r.question_only.format(q=q), " " + ref)
                                  for q, _, ref in triples], r.correctness_prefix)
        itself = self._alone_sums([(r.with_answer.format(q=q, a=ref), " " + ref)
                                   for q, _, ref in triples], r.correctness_prefix)
        return [(sum(lp) - base) / max(own - base, r.self_gain_floor)
                for lp, base, own in zip(given, alone, itself)]

    def helpfulness_raw(self, triples: Sequence[tuple[str, str, Any]]) -> list[float]:
        r = self.recipe
        to_question = [(r.answer_to_question.format(q=q), " " + a) for q, a, _ in triples]
        answering = self.scorer(to_question, prefix=r.answering_demos)
        evasive = self.scorer(to_question, prefix=r.evasive_demos)
        plain = self.scorer(to_question + [(r.answer_alone, " " + a) for _, a, _ in triples])
        given_q, alone = plain[:len(triples)], plain[len(triples):]
        return [_mean(h) - _mean(e) + r.help_pmi_weight * (_mean(gq) - _mean(al))
                for h, e, gq, al in zip(answering, evasive, given_q, alone)]

    def judge_many(self, key: str, triples: Sequence[tuple[str, str, str | None]]
                   ) -> list[Judgment]:
        if key not in FEEDBACK_KEYS:
            raise ValueError(f"unknown feedback key {key!r}; valid: {', '.join(FEEDBACK_KEYS)}")
        start = time.perf_counter()
        scored = [i for i, (_, a, _) in enumerate(triples) if a and a.strip()]
        todo = [(triples[i][0], triples[i][1].strip(), triples[i][2]) for i in scored]
        raws = (self.correctness_raw(todo) if key == "correctness"
                else self.helpfulness_raw(todo)) if todo else []
        seconds = (time.perf_counter() - start) / max(len(triples), 1)
        calibration = getattr(self.recipe, key)
        how = ("PMI ratio: the answer's gain in log P(reference) over the reference's own"
               if key == "correctness" else
               "answering vs evasive demonstrations + PMI of the answer given the question")
        judgments = [Judgment(0.0, "empty answer: nothing to judge, scored 0", seconds=seconds)
                     for _ in triples]
        for i, raw in zip(scored, raws):
            judgments[i] = Judgment(
                calibration.squash(raw),
                f"{key} from the likelihoods of {self.scorer.name} ({how}): raw {raw:+.3f}, "
                f"score = logistic((raw - {calibration.center:g}) / {calibration.scale:g}). "
                "No text was generated.", seconds=seconds)
        return judgments

    def judge(self, key: str, question: str, answer: str, reference: str | None) -> Judgment:
        return self.judge_many(key, [(question, answer, reference)])[0]

    def evaluator(self, key: str) -> Callable[..., dict[str, Any]]:
        """An openevals-style evaluator for ``key`` (``reference_outputs`` for correctness)."""
        def evaluate(*, inputs: Any, outputs: Any, reference_outputs: Any = None,
                     **_: Any) -> dict[str, Any]:
            judgment = self.judge(key, _text(inputs), _text(outputs),
                                  None if reference_outputs is None else
                                  _text(reference_outputs))
            return {"key": key, "score": judgment.score, "comment": judgment.comment}
        return evaluate


def _text(value: Any) -> str:
    """openevals passes strings or dicts (``{"question": ...}``); judge their text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return _text(next(iter(value.values())))
    return str(value)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def model_spec(judge_spec: str) -> str:
    """The model behind an offline judge spec: ``smollm2-135m`` or ``hf:<id or path>``."""
    if judge_spec == OFFLINE_JUDGE:
        return judge_spec
    if judge_spec.startswith(HF_PREFIX) and judge_spec[len(HF_PREFIX):]:
        return judge_spec[len(HF_PREFIX):]
    raise ValueError(f"{judge_spec!r} is not an offline judge spec")


@functools.lru_cache(maxsize=4)
def offline_judge(judge_spec: str, device: str = "cpu") -> LikelihoodJudge:
    """The likelihood judge for ``smollm2-135m`` or ``hf:<id or path>`` on ``device``; loaded
    once per process and device.

    A model that cannot be loaded here (a hub id without network or cache, a missing folder)
    makes the judge unavailable, with the loader's reason."""
    from llmbench.sources.models import (
        HubUnreachableError,
        UnknownModelError,
        inference_model,
        load_tokenizer,
    )

    spec = model_spec(judge_spec)
    try:
        # the same loaded copy as the RAG generator's (read-only users share one)
        model, tokenizer = inference_model(spec, device=device), load_tokenizer(spec)
    except (HubUnreachableError, UnknownModelError, OSError) as exc:
        raise JudgeUnavailable(f"judge {judge_spec}: cannot load its model: {exc}") from None
    return LikelihoodJudge(judge_spec, TokenLogProbs(model, tokenizer, spec))
