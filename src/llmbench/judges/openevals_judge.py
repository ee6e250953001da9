"""Judges as openevals evaluators: one ``create_llm_as_judge`` evaluator per feedback key.

* ``correctness``: ``CORRECTNESS_PROMPT`` (question, answer, reference answer);
* ``helpfulness``: ``RAG_HELPFULNESS_PROMPT`` (question, answer).

Judge specs (``--judge SPEC``): ``smollm2-135m`` (offline, see ``offline``) and
``openai:<model>`` (any OpenAI-compatible chat endpoint: ``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, through the ``openai`` client).

A judgment that fails transiently (a reply that does not parse or has no score in [0, 1], a
timeout, a rate limit or a server error after the client's own retries) is retried and then
counted as unscored; configuration errors (unknown model, bad key, a request the endpoint
rejects) raise ``JudgeError`` with the endpoint's message.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmbench.core.specs import HF_PREFIX, NO_JUDGE, OFFLINE_JUDGE, OPENAI_PREFIX
from llmbench.core.tracing import redact_secrets, untraced_unless_active
from llmbench.judges.errors import JudgeError, JudgeUnavailable, UnknownJudgeError, UnscoredReply

FEEDBACK_KEYS = ("correctness", "helpfulness")

DEFAULT_ATTEMPTS = 3  # per judgment, for replies that do not parse
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CLIENT_RETRIES = 2  # the openai client's own retries (timeouts, 429, 5xx)


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
    if spec == OFFLINE_JUDGE or (spec.startswith(HF_PREFIX) and spec[len(HF_PREFIX):]):
        from llmbench.judges.offline import offline_judge  # likelihood scoring, no client

        return offline_judge(spec)
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
                            f"default), {HF_PREFIX}<model id or path> (offline, another local "
                            f"model), {OPENAI_PREFIX}<model> (e.g. openai:o3-mini) or {NO_JUDGE}")


@functools.lru_cache(maxsize=4)
def cached_judge(spec: str) -> Judge:
    """One judge per spec and process: the offline model loads once per pytest session."""
    return make_judge(spec)

