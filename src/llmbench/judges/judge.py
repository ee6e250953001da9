"""LLM-as-judge scores for RAG answers: openevals judges, an offline yes/no judge, repeats.

Each feedback key is an openevals ``create_llm_as_judge`` evaluator with openevals' own prompt
and continuous scores in [0, 1]:

* ``correctness``: ``CORRECTNESS_PROMPT`` (question, answer, reference answer);
* ``helpfulness``: ``RAG_HELPFULNESS_PROMPT`` (question, answer).

Judge specs (``--judge SPEC``):

* ``smollm2-135m``, the offline default. A 135M model cannot be trusted to write JSON, so it
  scores by constrained choice: the rubric is followed by one yes/no question, and the score is
  P(yes), the softmax over the next-token logits of "yes"/"Yes" against "no"/"No". The reply's
  reasoning says exactly that. Deterministic on CPU, and weak: ``measure_discrimination`` gives
  its AUC on right vs wrong answers, and every judged result carries that figure.
* ``openai:<model>``: any OpenAI-compatible chat endpoint (``OPENAI_API_KEY``,
  ``OPENAI_BASE_URL``), through the ``openai`` client.

A judgment that fails transiently (a reply that does not parse or has no score in [0, 1], a
timeout, a rate limit or a server error after the client's own retries) is retried and then
counted as unscored; configuration errors (unknown model, bad key, a request the endpoint
rejects) raise ``JudgeError`` with the endpoint's message.

With ``repeats > 1`` every answer is judged that many times; the per-question scores, their
spread (sample standard deviation across repeats) and a tolerance derived from it go into the
result. See ``score_tolerance``.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmbench.core.tracing import (
    plain_inputs,
    redact_secrets,
    traceable,
    untraced_unless_active,
)
from llmbench.regression.results import Metric, info, quality

OFFLINE_JUDGE = "smollm2-135m"
NO_JUDGE = "none"
OPENAI_PREFIX = "openai:"
FEEDBACK_KEYS = ("correctness", "helpfulness")

# The offline judge answers one yes/no question after openevals' rubric.
YES_NO_QUESTIONS = {
    "correctness": "Is the output correct according to the reference outputs? Answer yes or no.",
    "helpfulness": "Does the output answer the input question? Answer yes or no.",
}
YES_WORDS = ("yes", "Yes")
NO_WORDS = ("no", "No")

DEFAULT_ATTEMPTS = 3  # per judgment, for replies that do not parse
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CLIENT_RETRIES = 2  # the openai client's own retries (timeouts, 429, 5xx)

# Judge score tolerance: three standard errors of the difference between two runs' means,
# never below this floor (float differences between CPUs, a greedy answer changed by a token).
TOLERANCE_FLOOR = 0.02
TOLERANCE_SIGMAS = 3.0
UNMEASURED_TOLERANCE = 0.1  # a judge that varies run to run, judged once per answer
# AUC moves in steps of 1/(right x wrong answers); a deterministic judge repeats it exactly.
AUC_ABS_TOL = 0.05


class JudgeError(RuntimeError):
    """The judge cannot work at all (unknown model, bad key, rejected request)."""


class UnknownJudgeError(JudgeError, ValueError):
    pass


class JudgeUnavailable(JudgeError):
    """The judge needs something this machine lacks (an API key); benchmarks skip on it."""


class UnscoredReply(ValueError):
    """A judge reply without a usable score."""


@dataclass
class JudgeOutcome:
    """What a judge adds to a configuration's result."""

    metrics: dict[str, Metric]
    params: dict[str, Any] = field(default_factory=dict)  # define the benchmark: spec, repeats
    artifacts: dict[str, Any] = field(default_factory=dict)  # per-question scores, spread
    notes: list[str] = field(default_factory=list)



# --- the offline yes/no judge behind the OpenAI client interface ----------------------------

class _Completions:
    def __init__(self, create: Callable[..., Any]) -> None:
        self.create = create


class _Chat:
    def __init__(self, create: Callable[..., Any]) -> None:
        self.completions = _Completions(create)


class YesNoJudgeClient:
    """An OpenAI-client-shaped judge around a local chat model, scoring by constrained choice.

    ``client.chat.completions.create(model=, messages=, response_format=)`` applies the model's
    chat template to ``messages`` (which must end with a yes/no question), reads the next-token
    logits after the assistant turn opens, and replies with the JSON openevals parses:
    ``{"reasoning": "P(yes)=... from next-token logits ...", "score": P(yes)}``.

    Every judgment of one rubric starts with the same few hundred tokens. Prompts run through
    the model in fixed chunks of ``CHUNK`` tokens, and the key/value cache after each chunk is
    kept (least recently used first out), so a shared rubric is computed once. The chunking is
    the same whether a chunk comes from the cache or not: a prompt's score does not depend on
    which prompts were judged before it, and a repeat gives exactly the same number.
    """

    CHUNK = 64
    KEPT_CHUNKS = 12

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        import inspect

        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.yes_ids = [self._single_token(w) for w in YES_WORDS]
        self.no_ids = [self._single_token(w) for w in NO_WORDS]
        self._torch = torch
        # transformers renamed `past_key_values` to `cache` during 5.x
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Only the last position's logits are read; skipping the others saves ~25% of a pass.
        self._extra_args = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self._chunks: OrderedDict[tuple[int, ...], Any] = OrderedDict()  # prefix -> kv cache
        self.chat = _Chat(self._create)

    def _single_token(self, word: str) -> int:
        ids = self.tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            raise JudgeError(f"judge model {self.name}: {word!r} is not a single token ({ids}); "
                             "the yes/no judge needs single-token answers")
        return ids[0]

    def p_yes(self, messages: Sequence[Mapping[str, Any]]) -> tuple[float, int]:
        """P(yes) after the chat-templated ``messages``, and the prompt length in tokens."""
        torch = self._torch
        ids = self.tokenizer.apply_chat_template(
            [{"role": m["role"], "content": m["content"]} for m in messages],
            add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
        logits = self._last_logits(ids[0].tolist())
        pair = torch.softmax(logits[self.yes_ids + self.no_ids].double(), dim=0)
        return float(pair[: len(self.yes_ids)].sum()), int(ids.shape[1])

    def _forward(self, ids: list[int], cache: Any) -> tuple[Any, Any]:
        """Run ``ids`` after a copy of ``cache``; return the last logits and the new cache."""
        torch = self._torch
        kwargs = dict(self._extra_args)
        if cache is not None:
            kwargs[self._cache_arg] = copy.deepcopy(cache)
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids]), use_cache=True, **kwargs)
        new_cache = out.cache if self._cache_arg == "cache" else out.past_key_values
        return out.logits[0, -1], new_cache

    def _last_logits(self, ids: list[int]) -> Any:
        boundaries = range(self.CHUNK, len(ids), self.CHUNK)  # the last chunk always runs
        cache, start = None, 0
        for end in boundaries:
            kept = self._chunks.get(tuple(ids[:end]))
            if kept is None:
                break
            self._chunks.move_to_end(tuple(ids[:end]))
            cache, start = kept, end
        for end in boundaries:
            if end <= start:
                continue
            _, cache = self._forward(ids[start:end], cache)
            self._chunks[tuple(ids[:end])] = cache
            start = end
        while len(self._chunks) > self.KEPT_CHUNKS:
            self._chunks.popitem(last=False)
        return self._forward(ids[start:], cache)[0]

    def _create(self, *, model: str, messages: Sequence[Mapping[str, Any]],
                response_format: Any = None, **_: Any) -> Any:
        from openai.types.chat import ChatCompletion

        p, prompt_tokens = self.p_yes(messages)
        reasoning = (f"P(yes)={p:.4f} from the next-token logits of {self.name} "
                     f"({'/'.join(YES_WORDS)} vs {'/'.join(NO_WORDS)}) after the rubric and its "
                     "yes/no question; no free-text reasoning was generated.")
        return ChatCompletion.model_validate({
            "id": "yes-no-judgment", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant",
                "content": json.dumps({"reasoning": reasoning, "score": p})}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1,
                      "total_tokens": prompt_tokens + 1},
        })


# --- judges ------------------------------------------------------------------------------------

@dataclass
class Judgment:
    score: float | None  # None: unscored
    comment: str = ""
    error: str = ""  # why it is unscored
    attempts: int = 1
    seconds: float = 0.0


@dataclass
class Judge:
    """One judge spec with its openevals evaluators, one per feedback key."""

    spec: str
    client: Any
    model: str
    yes_no: bool
    attempts: int = DEFAULT_ATTEMPTS
    _evaluators: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)

    @property
    def deterministic(self) -> bool:
        return self.yes_no

    def evaluator(self, key: str) -> Callable[..., Any]:
        if key not in self._evaluators:
            from openevals.llm import create_llm_as_judge
            from openevals.prompts import CORRECTNESS_PROMPT, RAG_HELPFULNESS_PROMPT

            prompt = {"correctness": CORRECTNESS_PROMPT,
                      "helpfulness": RAG_HELPFULNESS_PROMPT}[key]
            if self.yes_no:
                prompt = f"{prompt}\n{YES_NO_QUESTIONS[key]}"
            self._evaluators[key] = create_llm_as_judge(
                prompt=prompt, feedback_key=key, judge=self.client, model=self.model,
                continuous=True)
        return self._evaluators[key]

    def judge(self, key: str, question: str, answer: str, reference: str | None) -> Judgment:
        """Score one answer; transient failures are retried, then returned as unscored."""
        kwargs: dict[str, Any] = {"inputs": question, "outputs": answer}
        if key == "correctness":
            kwargs["reference_outputs"] = reference
        errors: list[str] = []
        start = time.perf_counter()
        for attempt in range(1, self.attempts + 1):
            try:
                with untraced_unless_active():
                    result = self.evaluator(key)(**kwargs)
                return Judgment(_valid_score(result.get("score")), result.get("comment") or "",
                                attempts=attempt, seconds=time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001 -- sorted by _failure
                transient, reason = self._failure(exc)
            if not transient:
                # Raised here, unchained: the endpoint's exception may carry the API key.
                raise JudgeError(reason) from None
            errors.append(reason)
            if not reason.startswith("unparseable"):
                break  # the openai client already retried timeouts and rate limits
        return Judgment(None, error=errors[-1], attempts=len(errors),
                        seconds=time.perf_counter() - start)

    def _failure(self, exc: Exception) -> tuple[bool, str]:
        """``(transient, reason)`` for a failed judgment; unknown exceptions propagate."""
        if isinstance(exc, (json.JSONDecodeError, KeyError, TypeError, UnscoredReply)):
            return True, f"unparseable reply ({type(exc).__name__}: {redact_secrets(str(exc))})"
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return True, "timeout"
        if isinstance(exc, openai.RateLimitError):
            return True, "rate limited"
        if isinstance(exc, (openai.APIConnectionError, openai.InternalServerError)):
            return True, f"endpoint unavailable ({type(exc).__name__})"
        if isinstance(exc, openai.NotFoundError):
            return False, (f"judge model {self.model!r} ({self.spec}) does not exist at "
                           f"{_base_url(self.client)}: {_api_message(exc)}")
        if isinstance(exc, openai.APIStatusError):
            return False, (f"judge {self.spec} at {_base_url(self.client)} refused the request "
                           f"(HTTP {exc.status_code}): {_api_message(exc)}")
        raise exc


def _valid_score(score: Any) -> float:
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise UnscoredReply(f"score {score!r} is not a number")
    if not 0.0 <= score <= 1.0:  # also rejects NaN
        raise UnscoredReply(f"score {score!r} is outside [0, 1]")
    return float(score)


def _base_url(client: Any) -> str:
    return str(getattr(client, "base_url", "") or "the OpenAI API")


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and body.get("message"):
        return redact_secrets(str(body["message"]))
    return redact_secrets(str(exc))


def make_judge(spec: str, *, client: Any = None, attempts: int = DEFAULT_ATTEMPTS,
               timeout_s: float = DEFAULT_TIMEOUT_S,
               client_retries: int = DEFAULT_CLIENT_RETRIES) -> Judge:
    """Build the judge for ``spec``; pass ``client`` to use a ready OpenAI-shaped client."""
    if spec == OFFLINE_JUDGE:
        return Judge(spec, client or _offline_client(spec), spec, yes_no=True, attempts=attempts)
    if spec.startswith(OPENAI_PREFIX) and spec[len(OPENAI_PREFIX):]:
        model = spec[len(OPENAI_PREFIX):]
        if client is None:
            if not os.environ.get("OPENAI_API_KEY"):
                raise JudgeUnavailable(f"judge {spec} needs OPENAI_API_KEY (and OPENAI_BASE_URL "
                                       "for a server other than OpenAI's); it is not set")
            import openai

            client = openai.OpenAI(timeout=timeout_s, max_retries=client_retries)
        return Judge(spec, client, model, yes_no=False, attempts=attempts)
    raise UnknownJudgeError(f"unknown judge {spec!r} (--judge): use {OFFLINE_JUDGE} (offline, "
                            f"default), {OPENAI_PREFIX}<model> (e.g. openai:o3-mini) or "
                            f"{NO_JUDGE}")


@functools.lru_cache(maxsize=2)
def _offline_client(spec: str) -> YesNoJudgeClient:
    from llmbench.sources.models import load_model, load_tokenizer

    return YesNoJudgeClient(load_model(spec), load_tokenizer(spec), spec)


@functools.lru_cache(maxsize=4)
def cached_judge(spec: str) -> Judge:
    """One judge per spec and process: the offline model loads once per pytest session."""
    return make_judge(spec)


# --- judging a RAG configuration's answers -------------------------------------------------------

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


# --- how well the judge separates right from wrong answers ---------------------------------------

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
