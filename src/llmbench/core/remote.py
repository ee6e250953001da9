"""Calls to remote OpenAI-compatible endpoints: which failures to retry, for how long, and when
to stop at once. Shared by the ``openai:`` generator and judge.

* ``classify(exc)`` sorts a failed request by exception type and HTTP status (never by message
  text): timeouts, connection failures, 408/429/502/503/504 are **transient** (retried with
  backoff, honouring ``Retry-After``); any other 4xx, and a 5xx whose body is a validation error,
  is a **rejection** (a configuration problem: stop at once with the server's message and what
  to change). A plain 500 is retried, but when the same error answers the first few requests to
  an endpoint before any success, it is a rejection too (llama.cpp reports request validation
  errors as HTTP 500).
* ``Deadline``: how long a benchmark waits on its endpoints without an answer
  (``--remote-deadline``, default 600 s): time in failed requests and backoff adds up, any answer
  resets it, local work does not count. Each request's timeout is cut to what is left. On expiry: ``EndpointDeadlineExceeded`` ("endpoint … did not answer
  within …").
* ``call_endpoint(request, endpoint)``: one request with all of the above; every wait is logged
  (logger ``llmbench``, WARNING) so a slow run says why it is slow.
* A connection that cannot be made (refused, reset, no route; not a timeout) is retried like any
  transient failure, but counted per endpoint across requests: ``UNREACHABLE_STOPS_AFTER`` in a
  row before the endpoint ever answered (nothing is serving there), or ``GONE_AFTER`` in a row
  after it had answered (one request's retries: the server exited), raise ``EndpointGone``
  naming the URL and the error, within seconds instead of at the deadline.

Every message that leaves here has been through ``redact_secrets``.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llmbench.core.redaction import redact_secrets

T = TypeVar("T")
log = logging.getLogger("llmbench")

DEFAULT_DEADLINE_S = 600.0
DEFAULT_TIMEOUT_S = 60.0  # one request
DEFAULT_RETRIES = 3  # transient failures, per request
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 20.0
RETRY_AFTER_MAX_S = 60.0
SAME_ERROR_STOPS_AFTER = 3  # identical 500s before any success: a configuration error
UNREACHABLE_STOPS_AFTER = 3  # failed connections in a row before any answer: nothing serving
GONE_AFTER = DEFAULT_RETRIES + 1  # failed connections in a row after answers: the server died
TRANSIENT_STATUS = frozenset({408, 429, 502, 503, 504})
NO_KEY_PLACEHOLDER = "no-key"  # local servers (llama.cpp, vLLM, Ollama) take any key


# --- errors --------------------------------------------------------------------------------------

class EndpointError(RuntimeError):
    """A remote endpoint failed; the message is redacted and says what to change."""


class EndpointRejected(EndpointError):
    """The endpoint refuses the request as configured: retrying cannot help."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


class EndpointUnavailable(EndpointError):
    """Transient failures outlasted the retries."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


class EndpointDeadlineExceeded(EndpointError):
    """The endpoint did not answer within the benchmark's deadline."""


class EndpointGone(EndpointError):
    """Nothing accepts connections at the endpoint's URL: never started, or it stopped."""


# --- what failed -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    """One failed request, sorted by type and status."""

    transient: bool
    reason: str  # short, redacted: "rate limited (HTTP 429)", "no answer within 60 s"
    status: int | None = None
    message: str = ""  # the server's own message, redacted
    param: str | None = None  # the request parameter the server objects to, when it says
    retry_after_s: float | None = None
    validation: bool = False  # the body is a request-validation error
    unreachable: bool = False  # no connection could be made (not a timeout, not an HTTP error)

    @property
    def signature(self) -> tuple[int | None, str]:
        return self.status, self.message


def classify(exc: BaseException, timeout_s: float | None = None) -> Failure:
    """Sort a failed OpenAI-client request; anything that is not an endpoint failure is
    re-raised (a bug of ours must not be retried or reported as the server's)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        within = f" within {timeout_s:g} s" if timeout_s is not None else ""
        return Failure(True, f"no answer{within}")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        return Failure(True, redact_secrets(f"endpoint unreachable{detail}"), unreachable=True)
    if isinstance(exc, openai.APIStatusError):
        status = int(exc.status_code)
        body = getattr(exc, "body", None)
        message = api_message(exc)
        validation = is_validation_error(status, body)
        failure = dict(status=status, message=message, param=_error_field(body, "param"),
                       retry_after_s=retry_after(getattr(exc, "response", None)),
                       validation=validation)
        if status in TRANSIENT_STATUS:
            reason = "rate limited" if status == 429 else "endpoint unavailable"
            return Failure(True, f"{reason} (HTTP {status})", **failure)
        if status >= 500 and not validation:
            return Failure(True, f"server error (HTTP {status})", **failure)
        return Failure(False, f"request rejected (HTTP {status})", **failure)
    raise exc


def api_message(exc: BaseException) -> str:
    """The server's own error message (OpenAI ``error.message``, FastAPI ``detail``), redacted."""
    body = getattr(exc, "body", None)
    found = _error_field(body, "message")
    if found is None and isinstance(body, Mapping) and body.get("detail") is not None:
        found = body["detail"]
    if found is None and isinstance(body, str) and body.strip():
        found = body
    if found is None:
        found = str(exc)
    return redact_secrets(str(found)[:2000])


def _error_field(body: Any, name: str) -> Any:
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping) and error.get(name) is not None:
        return error[name]
    return body.get(name)


VALIDATION_TYPES = frozenset({"invalid_request_error", "validation_error", "BadRequestError",
                              "invalid_request", "bad_request"})


def is_validation_error(status: int, body: Any) -> bool:
    """Does the error body say the request was invalid (whatever the status)?

    Structured fields only: FastAPI/pydantic's ``detail`` list of ``{"loc", "msg"}`` items, or an
    OpenAI-style ``error`` whose ``type`` is a request error or that names a ``param``."""
    if not isinstance(body, Mapping):
        return False
    detail = body.get("detail")
    if isinstance(detail, list) and detail and all(isinstance(d, Mapping) and "loc" in d
                                                   for d in detail):
        return True
    error_type = _error_field(body, "type")
    return error_type in VALIDATION_TYPES or _error_field(body, "param") is not None


def retry_after(response: Any) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, ``retry-after``), if it says."""
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value:
            try:
                return float(value)
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
    return None


# --- the endpoint and what the run learnt about it -----------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """One remote model: the spec it came from, where it is served, and its name there."""

    spec: str
    base_url: str
    model: str
    key_variable: str = "OPENAI_API_KEY"  # where its key comes from, for messages
    url_variable: str = "OPENAI_BASE_URL"

    @property
    def key(self) -> tuple[str, str]:
        return self.base_url, self.model

    def __str__(self) -> str:
        return f"{self.spec} at {self.base_url}"


@dataclass
class _Health:
    answered: int = 0
    failures: list[tuple[int | None, str]] = field(default_factory=list)
    unreachable: int = 0  # connections that failed in a row


class EndpointMemory:
    """What this run learnt per endpoint (base URL + model): whether it ever answered, and any
    settings negotiated with it (the judge's structured-output mode, the generator's token
    limit parameter). One per process; ``clear()`` forgets (tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[tuple[str, str], _Health] = {}
        self._settings: dict[tuple[tuple[str, str], str], Any] = {}

    def answered(self, endpoint: Endpoint) -> None:
        with self._lock:
            health = self._health.setdefault(endpoint.key, _Health())
            health.answered += 1
            health.failures.clear()
            health.unreachable = 0

    def connection(self, endpoint: Endpoint, failure: Failure) -> tuple[int, int]:
        """Record whether a failed request could connect; returns the connections that failed
        in a row and how many requests the endpoint has answered in this run."""
        with self._lock:
            health = self._health.setdefault(endpoint.key, _Health())
            health.unreachable = health.unreachable + 1 if failure.unreachable else 0
            return health.unreachable, health.answered

    def failed(self, endpoint: Endpoint, failure: Failure) -> int:
        """Record a failure; returns how many identical failures in a row, before any answer."""
        with self._lock:
            health = self._health.setdefault(endpoint.key, _Health())
            if health.answered:
                return 0
            if health.failures and health.failures[-1] != failure.signature:
                health.failures.clear()
            health.failures.append(failure.signature)
            return len(health.failures)

    def get(self, endpoint: Endpoint, name: str, default: Any = None) -> Any:
        with self._lock:
            return self._settings.get((endpoint.key, name), default)

    def remember(self, endpoint: Endpoint, name: str, value: Any) -> None:
        with self._lock:
            self._settings[(endpoint.key, name)] = value

    def clear(self) -> None:
        with self._lock:
            self._health.clear()
            self._settings.clear()


MEMORY = EndpointMemory()


# --- the deadline --------------------------------------------------------------------------------

class Deadline:
    """How long to wait on endpoints without an answer: the time spent in failed requests and
    in backoff adds up, an answer resets it. Local work between requests does not count."""

    def __init__(self, seconds: float = DEFAULT_DEADLINE_S) -> None:
        if not seconds > 0:
            raise ValueError(f"--remote-deadline must be > 0 seconds, got {seconds}")
        self.seconds = float(seconds)
        self.waited = 0.0

    def answered(self) -> None:
        self.waited = 0.0

    def waited_for(self, seconds: float) -> None:
        self.waited += seconds

    def remaining(self) -> float:
        return self.seconds - self.waited

    def exceeded(self, endpoint: Endpoint, last: Failure | None) -> EndpointDeadlineExceeded:
        why = ""
        if last is not None:
            why = f"; last failure: {last.reason}" + (f": {last.message}" if last.message else "")
        return EndpointDeadlineExceeded(redact_secrets(
            f"endpoint {endpoint} did not answer within {self.seconds:g} s "
            f"(--remote-deadline){why}. Check that the server is up and serving "
            f"{endpoint.model!r}, or raise --remote-deadline for a slow one."))


_ACTIVE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("llmbench_deadline",
                                                                         default=None)


def current_deadline() -> Deadline:
    """The deadline of the running benchmark (``remote_deadline``); outside one, a fresh
    default deadline for each request."""
    return _ACTIVE.get() or Deadline()


@contextlib.contextmanager
def remote_deadline(seconds: float) -> Iterator[Deadline]:
    """Run a benchmark under its own deadline."""
    deadline = Deadline(seconds)
    token = _ACTIVE.set(deadline)
    try:
        yield deadline
    finally:
        _ACTIVE.reset(token)


# --- one request, retried -----------------------------------------------------------------------

def backoff_s(retry: int, failure: Failure) -> float:
    if failure.retry_after_s is not None:
        return min(max(failure.retry_after_s, 0.0), RETRY_AFTER_MAX_S)
    return min(BACKOFF_FIRST_S * 2 ** (retry - 1), BACKOFF_MAX_S)


def call_endpoint(request: Callable[[float], T], endpoint: Endpoint, *,
                  retries: int = DEFAULT_RETRIES, timeout_s: float = DEFAULT_TIMEOUT_S,
                  memory: EndpointMemory = MEMORY, sleep: Callable[[float], None] = time.sleep
                  ) -> T:
    """``request(timeout_s)`` with transient failures retried; raises ``EndpointRejected``,
    ``EndpointUnavailable`` or ``EndpointDeadlineExceeded`` (messages redacted)."""
    deadline = current_deadline()
    last: Failure | None = None
    retry = 0
    while True:
        left = deadline.remaining()
        if left <= 0:
            raise deadline.exceeded(endpoint, last)
        this_timeout = min(timeout_s, left)
        started = time.monotonic()
        try:
            result = request(this_timeout)
        except Exception as exc:  # noqa: BLE001 -- classify() re-raises what is not ours
            failure = classify(exc, this_timeout)
        else:
            deadline.answered()
            memory.answered(endpoint)
            return result
        deadline.waited_for(time.monotonic() - started)
        last = failure
        if not failure.transient:
            raise EndpointRejected(rejection_message(endpoint, failure), failure) from None
        in_a_row, answered = memory.connection(endpoint, failure)
        if in_a_row >= (GONE_AFTER if answered else UNREACHABLE_STOPS_AFTER):
            raise EndpointGone(gone_message(endpoint, failure, in_a_row, answered)) from None
        same = memory.failed(endpoint, failure) if failure.status == 500 else 0
        if same >= SAME_ERROR_STOPS_AFTER:
            raise EndpointRejected(rejection_message(endpoint, failure, repeated=same),
                                   failure) from None
        retry += 1
        if retry > retries:
            said = f": {failure.message}" if failure.message else ""
            raise EndpointUnavailable(redact_secrets(
                f"{endpoint}: {failure.reason}{said}; gave up after {retries} retries"),
                failure) from None
        wait = backoff_s(retry, failure)
        left = deadline.remaining()
        if wait >= left:
            raise deadline.exceeded(endpoint, failure)
        log.warning("%s: %s; retry %d/%d in %.1f s (%.0f s left of --remote-deadline)",
                    endpoint, failure.reason, retry, retries, wait, left)
        sleep(wait)
        deadline.waited_for(wait)


def gone_message(endpoint: Endpoint, failure: Failure, in_a_row: int, answered: int) -> str:
    """Which URL stopped accepting connections, the error, and what it means."""
    if answered:
        head = (f"{endpoint} stopped answering: it had answered {answered} request(s), then "
                f"{in_a_row} connections in a row failed ({failure.reason}). The server has "
                "gone away (it crashed or was stopped): its own log says why")
    else:
        head = (f"{endpoint} cannot be reached: the first {in_a_row} connections failed "
                f"({failure.reason}). Nothing is serving there: start the server, or fix "
                f"{endpoint.url_variable}; if it was started, it has exited (its log says why)")
    return redact_secrets(head + ".")


def rejection_message(endpoint: Endpoint, failure: Failure, *, repeated: int = 0) -> str:
    """The server's message and what to change, by status."""
    status = failure.status
    said = f": {failure.message.rstrip().rstrip('.')}" if failure.message else ""
    if repeated:
        head = (f"{endpoint} answered the first {repeated} requests with the same error "
                f"(HTTP {status}){said}. An error that repeats before any success is a "
                "configuration problem, not an outage")
        return redact_secrets(head + ". " + _what_to_change(endpoint, failure))
    return redact_secrets(f"{endpoint} rejected the request (HTTP {status}){said}. "
                          + _what_to_change(endpoint, failure))


def _what_to_change(endpoint: Endpoint, failure: Failure) -> str:
    if failure.status in (401, 403):
        return (f"Check {endpoint.key_variable} for this server (and {endpoint.url_variable}: "
                "a key for one server is refused by another).")
    if failure.status == 404:
        return (f"Check the model name in the spec ({endpoint.spec}: the server lists its "
                f"models at {endpoint.base_url.rstrip('/')}/models) and "
                f"{endpoint.url_variable} (it usually ends in /v1).")
    if failure.param:
        return (f"The server does not accept the parameter {failure.param!r} as llmbench sends "
                "it; use a server or model that supports it, or report it as an llmbench bug.")
    return ("The server does not accept the request as llmbench sends it: check that "
            f"{endpoint.url_variable} points at an OpenAI-compatible chat-completions API and "
            "that the model supports chat.")


# --- client settings ----------------------------------------------------------------------------

def openai_settings(prefix: str = "") -> tuple[str, str | None]:
    """``(api_key, base_url)`` for ``openai:`` specs from the environment; raises
    ``LookupError`` saying what to set.

    ``<prefix>OPENAI_API_KEY`` / ``<prefix>OPENAI_BASE_URL`` win over the plain variables (the
    judge reads ``LLMBENCH_JUDGE_OPENAI_*``, so it can run on another server than the
    generator). A server of your own (``OPENAI_BASE_URL`` set) needs no key."""
    key = (prefix and os.environ.get(f"{prefix}OPENAI_API_KEY")) or \
        os.environ.get("OPENAI_API_KEY")
    base_url = (prefix and os.environ.get(f"{prefix}OPENAI_BASE_URL")) or \
        os.environ.get("OPENAI_BASE_URL") or None
    if not key and not base_url:
        alone = (f" (or {prefix}OPENAI_API_KEY / {prefix}OPENAI_BASE_URL for this one alone)"
                 if prefix else "")
        raise LookupError("no endpoint configured: set OPENAI_API_KEY for OpenAI's API, or "
                          "OPENAI_BASE_URL for an OpenAI-compatible server (vLLM, Ollama, "
                          f"llama.cpp){alone}")
    return key or NO_KEY_PLACEHOLDER, base_url


def settings_variables(prefix: str = "") -> tuple[str, str]:
    """The variables the key and the URL of ``openai_settings(prefix)`` came from."""
    def chosen(name: str) -> str:
        return f"{prefix}{name}" if prefix and os.environ.get(f"{prefix}{name}") else name
    return chosen("OPENAI_API_KEY"), chosen("OPENAI_BASE_URL")


def openai_client(api_key: str, base_url: str | None) -> Any:
    """An ``openai.OpenAI`` client that does not retry by itself (``call_endpoint`` does)."""
    import openai

    return openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0,
                         timeout=DEFAULT_TIMEOUT_S)


def base_url_of(client: Any) -> str:
    return str(getattr(client, "base_url", "") or "the OpenAI API")
