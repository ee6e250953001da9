"""Judges as openevals evaluators: one ``create_llm_as_judge`` evaluator per feedback key.

* ``correctness``: ``CORRECTNESS_PROMPT`` (question, answer, reference answer);
* ``helpfulness``: ``RAG_HELPFULNESS_PROMPT`` (question, answer).

Judge specs (``--judge SPEC``): ``smollm2-135m`` (offline, see ``offline``) and
``openai:<model>`` (any OpenAI-compatible chat endpoint: ``OPENAI_API_KEY``,
``OPENAI_BASE_URL``; ``LLMBENCH_JUDGE_OPENAI_API_KEY`` / ``LLMBENCH_JUDGE_OPENAI_BASE_URL`` put
the judge on another server than the generator). ``validate_judge_spec`` checks a spec before
anything runs.

An ``openai:`` judge talks to its endpoint through ``structured_output.StructuredOutputClient``
(the structured-output mode is negotiated per endpoint) and ``llmbench.core.remote`` (transient
failures retried within the benchmark's deadline). Decided by exception type:

* a reply that does not parse or has no score in [0, 1]: asked again, up to ``attempts``;
* transient endpoint failures that outlast their retries: the judgment is unscored, with the
  reason;
* a request the endpoint refuses (bad key, unknown model, an error that repeats before any
  success) or an endpoint silent past ``--remote-deadline``: ``JudgeError`` with the server's
  message and what to change -- the benchmark fails at once.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmbench.core.redaction import redact_secrets
from llmbench.core.remote import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    Endpoint,
    EndpointDeadlineExceeded,
    EndpointRejected,
    EndpointUnavailable,
    base_url_of,
    openai_client,
    openai_settings,
    settings_variables,
)
from llmbench.core.specs import (
    HF_PREFIX,
    NO_JUDGE,
    OFFLINE_JUDGE,
    OPENAI_PREFIX,
    judge_spec_problem,
)
from llmbench.core.tracing import untraced_unless_active
from llmbench.judges.errors import JudgeError, JudgeUnavailable, UnknownJudgeError, UnscoredReply
from llmbench.judges.structured_output import StructuredOutputClient

FEEDBACK_KEYS = ("correctness", "helpfulness")

DEFAULT_ATTEMPTS = 3  # per judgment, for replies that do not parse
JUDGE_ENV_PREFIX = "LLMBENCH_JUDGE_"  # LLMBENCH_JUDGE_OPENAI_API_KEY / _BASE_URL
# A reply openevals could not turn into a score: asked again.
UNPARSEABLE = (json.JSONDecodeError, KeyError, TypeError, UnscoredReply)


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
        """Score one answer: an unparseable reply is asked again, an endpoint that stays
        unavailable leaves it unscored, a refused request raises ``JudgeError``."""
        kwargs: dict[str, Any] = {"inputs": question, "outputs": answer}
        if key == "correctness":
            kwargs["reference_outputs"] = reference
        start = time.perf_counter()
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                with untraced_unless_active():
                    result = self.evaluator(key)(**kwargs)
                return Judgment(_valid_score(result.get("score")), result.get("comment") or "",
                                attempts=attempt, seconds=time.perf_counter() - start)
            except UNPARSEABLE as exc:
                error = f"unparseable reply ({type(exc).__name__}: {redact_secrets(str(exc))})"
            except EndpointUnavailable as exc:  # call_endpoint already retried it
                return Judgment(None, error=exc.failure.reason, attempts=attempt,
                                seconds=time.perf_counter() - start)
            except (EndpointRejected, EndpointDeadlineExceeded) as exc:
                # Unchained: the endpoint's exception may carry the API key.
                raise JudgeError(f"judge {self.spec}: {exc}") from None
        return Judgment(None, error=error, attempts=self.attempts,
                        seconds=time.perf_counter() - start)

    @property
    def structured_output(self) -> str | None:
        """The structured-output mode negotiated with an ``openai:`` judge's endpoint."""
        return self.client.mode if isinstance(self.client, StructuredOutputClient) else None

    def notes(self) -> list[str]:
        """What a result should say about this judge (the negotiated structured output)."""
        if not isinstance(self.client, StructuredOutputClient) or self.client.mode is None:
            return []
        refused = self.client.refused()
        why = (" (refused: " + "; ".join(f"{mode}: {reason}" for mode, reason in
                                         refused.items()) + ")") if refused else ""
        grammar = (" (scores limited to 0.0, 0.1, ..., 1.0 by the server's grammar)"
                   if self.client.mode == "json_object+schema" else "")
        return [redact_secrets(f"judge {self.spec}: structured output "
                               f"{self.client.mode!r}{grammar} with {self.client.endpoint}"
                               f"{why}")]


def _valid_score(score: Any) -> float:
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise UnscoredReply(f"score {score!r} is not a number")
    if not 0.0 <= score <= 1.0:  # also rejects NaN
        raise UnscoredReply(f"score {score!r} is outside [0, 1]")
    return float(score)


def validate_judge_spec(spec: str) -> None:
    """Raise ``UnknownJudgeError`` (a ValueError) naming the valid choices unless ``spec`` has
    the form of a judge spec (``llmbench.core.specs.judge_spec_problem``: nothing is loaded,
    no endpoint called)."""
    if judge_spec_problem(spec) is None:
        return
    raise UnknownJudgeError(f"unknown judge {spec!r} (--judge): use {OFFLINE_JUDGE} (offline, "
                            f"the default), {HF_PREFIX}<model id or path> (offline, another local "
                            f"model), {OPENAI_PREFIX}<model> (e.g. openai:gpt-4o-mini, any "
                            f"OpenAI-compatible server via OPENAI_BASE_URL) or {NO_JUDGE}")


def make_judge(spec: str, *, client: Any = None, attempts: int = DEFAULT_ATTEMPTS,
               timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = DEFAULT_RETRIES,
               device: str = "cpu") -> Judge:
    """Build the judge for ``spec``; pass ``client`` to use a ready OpenAI-shaped client.
    ``device``: where an offline judge's model runs (a benchmark's own device)."""
    if spec == OFFLINE_JUDGE or (spec.startswith(HF_PREFIX) and spec[len(HF_PREFIX):]):
        from llmbench.judges.offline import offline_judge  # likelihood scoring, no client

        return offline_judge(spec, device)
    if spec.startswith(OPENAI_PREFIX) and spec[len(OPENAI_PREFIX):]:
        model = spec[len(OPENAI_PREFIX):]
        if client is None:
            try:
                client = openai_client(*openai_settings(prefix=JUDGE_ENV_PREFIX))
            except LookupError as exc:
                raise JudgeUnavailable(str(exc)) from None
        endpoint = Endpoint(spec, base_url_of(client), model,
                            *settings_variables(JUDGE_ENV_PREFIX))
        negotiating = StructuredOutputClient(client, endpoint, retries=retries,
                                             timeout_s=timeout_s)
        return Judge(spec, negotiating, model, yes_no=False, attempts=attempts)
    validate_judge_spec(spec)  # raises, naming the valid choices
    raise UnknownJudgeError(f"judge {spec!r} cannot be built here")


@functools.lru_cache(maxsize=4)
def cached_judge(spec: str, device: str = "cpu") -> Judge:
    """One judge per spec, device and process: the offline model loads once per pytest
    session."""
    return make_judge(spec, device=device)

