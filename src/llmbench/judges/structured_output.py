"""Structured output negotiated with each judge endpoint, between openevals and the client.

openevals asks an OpenAI-shaped client for ``response_format={"type": "json_schema", ...}`` and
parses the reply as ``{"reasoning": ..., "score": ...}``. Servers differ: OpenAI and recent vLLM
take ``json_schema``; llama.cpp's server takes only ``text`` and ``json_object`` (with an optional
``schema`` it compiles into a grammar) and answers the rest with HTTP 500; older vLLM builds,
Ollama and gateways vary. ``StructuredOutputClient`` is the client openevals talks to; for each
request it tries, in order, starting from what already worked on this endpoint:

1. ``json_schema`` -- what openevals asks for;
2. ``json_object+schema`` -- JSON mode, the schema in the prompt and in ``response_format.schema``
   (llama.cpp compiles it into a grammar; other servers may refuse the extra field). The schema
   sent is ``bounded``: the score one of 0.0, 0.1, ..., 1.0 and the reasoning at most
   ``REASONING_MAX_CHARS`` long, so a grammar-bound small model can neither score out of range
   nor write until its context is full;
3. ``json_object`` -- JSON mode, the schema in the prompt;
4. ``text`` -- no ``response_format``; the schema in the prompt, the reply parsed leniently (a JSON
   object anywhere in it, or "score: 0.7").

A mode the endpoint refuses (HTTP 400/422 or a 5xx that persists) moves on to the next; the
first that answers is remembered for the run per endpoint (base URL + model) in
``llmbench.core.remote.MEMORY``, so later judgments go straight to it. Transient failures are
retried by ``call_endpoint``; a refusal that no mode avoids (bad key, unknown model) is raised.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from llmbench.core.redaction import redact_secrets
from llmbench.core.remote import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    MEMORY,
    TRANSIENT_STATUS,
    Endpoint,
    EndpointMemory,
    EndpointRejected,
    EndpointUnavailable,
    Failure,
    call_endpoint,
)

log = logging.getLogger("llmbench")

MODES = ("json_schema", "json_object+schema", "json_object", "text")
MEMORY_KEY = "structured_output"
REFUSED_KEY = "structured_output_refused"
REASONING_MAX_CHARS = 400  # bounds a grammar-constrained reply (json_object+schema)
SCORE_STEPS = tuple(i / 10 for i in range(11))  # the scores a grammar-bound judge may write


class StructuredOutputClient:
    """An OpenAI-client-shaped judge client (``.chat.completions.create``) that negotiates the
    structured-output mode with ``client``'s endpoint."""

    def __init__(self, client: Any, endpoint: Endpoint, *, retries: int = DEFAULT_RETRIES,
                 timeout_s: float = DEFAULT_TIMEOUT_S, memory: EndpointMemory = MEMORY) -> None:
        self.client = client
        self.endpoint = endpoint
        self.retries = retries
        self.timeout_s = timeout_s
        self.memory = memory
        self.base_url = endpoint.base_url
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    @property
    def mode(self) -> str | None:
        """The mode that answered on this endpoint in this run (None: not asked yet)."""
        return self.memory.get(self.endpoint, MEMORY_KEY)

    def refused(self) -> dict[str, str]:
        """Modes this endpoint refused in this run, with its reason."""
        return dict(self.memory.get(self.endpoint, REFUSED_KEY, {}))

    def create(self, **request: Any) -> Any:
        schema = _schema_of(request.get("response_format"))
        if schema is None:  # not a structured-output request: pass it through
            return self._send(request)
        start = MODES.index(self.mode) if self.mode in MODES else 0
        last: EndpointRejected | EndpointUnavailable | None = None
        for mode in MODES[start:]:
            try:
                response = self._send(request_for(mode, request, schema))
            except (EndpointRejected, EndpointUnavailable) as exc:
                if not refuses_the_mode(exc.failure):
                    raise
                last = exc
                self._refused(mode, exc.failure)
                continue
            if mode != self.mode:
                self.memory.remember(self.endpoint, MEMORY_KEY, mode)
                if mode != MODES[0]:
                    log.warning("%s: judging with structured output %r (refused: %s)",
                                self.endpoint, mode, ", ".join(self.refused()))
            return normalized(response, lenient=mode != MODES[0])
        assert last is not None
        raise EndpointRejected(redact_secrets(
            f"{self.endpoint} refused every structured-output mode llmbench tries "
            f"({', '.join(MODES[start:])}); last: {last}"), last.failure)

    def _send(self, request: dict[str, Any]) -> Any:
        return call_endpoint(
            lambda timeout: self.client.chat.completions.create(**request, timeout=timeout),
            self.endpoint, retries=self.retries, timeout_s=self.timeout_s, memory=self.memory)

    def _refused(self, mode: str, failure: Failure) -> None:
        refused = self.refused()
        refused[mode] = f"HTTP {failure.status}: {' '.join(failure.message.split())[:160]}"
        self.memory.remember(self.endpoint, REFUSED_KEY, refused)
        log.info("%s: structured output %r refused (HTTP %s); trying the next mode",
                 self.endpoint, mode, failure.status)


def refuses_the_mode(failure: Failure) -> bool:
    """A refusal another mode may avoid: the request was invalid (400/422, a validation body),
    or the server kept failing on it (a persistent 5xx: llama.cpp's answer to json_schema)."""
    status = failure.status or 0
    if status in (401, 403, 404):  # key, permission, model: no mode changes those
        return False
    return (status in (400, 422) or failure.validation
            or (status >= 500 and status not in TRANSIENT_STATUS))


def _schema_of(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return dict(schema) if isinstance(schema, Mapping) else None


def schema_instruction(schema: Mapping[str, Any]) -> str:
    keys = ", ".join(f'"{k}"' for k in (schema.get("properties") or {}))
    return ("\n\nRespond with one JSON object and nothing else, with the keys " + keys +
            ", matching this JSON schema:\n" + json.dumps(schema) +
            '\nFor example: {"reasoning": "<one or two sentences>", "score": <a number from '
            '0.0 to 1.0>}')


def request_for(mode: str, request: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The request for ``mode`` from openevals' ``json_schema`` request."""
    if mode == "json_schema":
        return request
    out = {k: v for k, v in request.items() if k != "response_format"}
    messages = copy.deepcopy(list(request["messages"]))
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None:
        messages.append({"role": "user", "content": schema_instruction(schema).strip()})
    elif isinstance(messages[last_user].get("content"), str):
        messages[last_user]["content"] += schema_instruction(schema)
    else:
        messages[last_user]["content"] = [*messages[last_user]["content"],
                                          {"type": "text", "text": schema_instruction(schema)}]
    out["messages"] = messages
    if mode == "json_object+schema":
        out["response_format"] = {"type": "json_object", "schema": bounded(schema)}
    elif mode == "json_object":
        out["response_format"] = {"type": "json_object"}
    return out


def bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as a grammar should enforce it: a continuous score becomes one of
    ``SCORE_STEPS`` (a JSON-schema grammar cannot bound a number's range), the reasoning gets a
    length limit."""
    schema = copy.deepcopy(schema)
    properties = schema.get("properties") or {}
    reasoning, score = properties.get("reasoning"), properties.get("score")
    if isinstance(reasoning, dict) and reasoning.get("type") == "string":
        reasoning.setdefault("maxLength", REASONING_MAX_CHARS)
    if isinstance(score, dict) and score.get("type") == "number" and "enum" not in score:
        score["enum"] = list(SCORE_STEPS)
    return schema


# --- lenient parsing ----------------------------------------------------------------------------

_SCORE = re.compile(r"""score["']?\s*(?:[:=]|is|should be:?)\s*["']?([-+]?(?:\d+\.?\d*|\.\d+)"""
                    r"""|true|false)""", re.IGNORECASE)


def lenient_reply(text: str) -> dict[str, Any] | None:
    """``{"reasoning", "score"}`` from a reply that is not one JSON object: the first JSON object
    in it that has a score, else the last "score: X" it states; None when it has no score."""
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            found, _ = decoder.raw_decode(text[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict) and "score" in found:
            return {"reasoning": str(found.get("reasoning") or text.strip()),
                    "score": _number(found["score"])}
    matches = _SCORE.findall(text)
    if not matches:
        return None
    return {"reasoning": text.strip(), "score": _number(matches[-1])}


def _number(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return 1.0 if lowered == "true" else 0.0
        try:
            return float(lowered)
        except ValueError:
            return value
    return value


def normalized(response: Any, *, lenient: bool) -> Any:
    """The response with its content as the JSON openevals parses. ``lenient`` (every mode but
    ``json_schema``): a reply that is not one JSON object with a reasoning and a score is
    rewritten from what ``lenient_reply`` finds in it. Anything unusable is left alone, so
    openevals' parse fails and the judgment is asked again."""
    if not lenient:
        return response
    try:
        message = response.choices[0].message
        content = message.content or ""
    except (AttributeError, IndexError, TypeError):
        return response
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and "score" in parsed and "reasoning" in parsed:
        return response
    found = lenient_reply(content)
    if found is not None:
        message.content = json.dumps(found)
    return response
