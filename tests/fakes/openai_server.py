"""A local stand-in for an OpenAI-compatible chat-completions endpoint, on 127.0.0.1.

``FakeOpenAI`` serves ``POST /v1/chat/completions`` in a background thread. Point the client at
``server.url`` (``OPENAI_BASE_URL``). It answers with ``reply(messages)`` (default: the first
line of the last message), reports ``usage`` as whitespace-separated word counts, and can be told
to fail:

* ``fail_first=N`` answers the first N requests with ``fail_status`` (429 by default, with a tiny
  ``retry-after-ms`` so retries are fast);
* ``delay_s`` sleeps before answering; ``hang=True`` accepts the connection, reads the request
  and never answers (until the server stops);
* ``die_after=N`` answers N requests, then closes its port as a crashed server does: every
  later connection is refused (``kill()`` does the same at any time); ``drop_first=N`` drops
  the first N connections without an answer, as a server that is restarting;
* ``usage=False`` leaves usage out, ``usage_fields`` keeps only the named usage fields;
* ``fault(number, body, headers)`` scripts any other failure: return ``(status, payload)`` to
  answer with it, or None to answer normally (see ``llama_cpp_json_schema_fault``,
  ``rejecting_params``, ``echo_key_fault``);
* a model outside ``models`` gets a 404.

Every request is kept in ``requests`` (path, Authorization header, JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Messages = list[dict[str, Any]]
Fault = Callable[[int, dict[str, Any], Mapping[str, str]], "tuple[int, Any] | None"]


def first_line_of_last_message(messages: Messages) -> str:
    content = messages[-1]["content"]
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content)
    return str(content).strip().splitlines()[0]


def llama_cpp_json_schema_fault(number: int, body: dict[str, Any],
                                headers: Mapping[str, str]) -> tuple[int, Any] | None:
    """What llama-cpp-python's server (0.3.x) answers to ``response_format`` of type
    ``json_schema``: HTTP 500 with the pydantic validation error as its message."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") not in (None, "text", "json_object"):
        return 500, {"error": {"message": "[{'type': 'literal_error', 'loc': ('body', "
                                          "'response_format', 'type'), 'msg': \"Input should "
                                          "be 'text' or 'json_object'\"}]",
                               "type": "internal_server_error"}}
    return None


def rejecting_params(*names: str, status: int = 400) -> Fault:
    """Refuse requests that carry any of ``names`` (OpenAI's unsupported-parameter error)."""

    def fault(number: int, body: dict[str, Any], headers: Mapping[str, str]
              ) -> tuple[int, Any] | None:
        for name in names:
            if name in body or (name.startswith("response_format=")
                                and (body.get("response_format") or {}).get("type")
                                == name.split("=", 1)[1]):
                param = name.split("=", 1)[0]
                return status, {"error": {
                    "message": f"Unsupported parameter: '{param}' is not supported with this "
                               "model.", "type": "invalid_request_error", "param": param,
                    "code": "unsupported_parameter"}}
        return None

    return fault


def echo_key_fault(status: int) -> Fault:
    """Answer every request with ``status`` and an error body that echoes the request's
    credentials: the bare key, the Authorization header and every header."""

    def fault(number: int, body: dict[str, Any], headers: Mapping[str, str]
              ) -> tuple[int, Any] | None:
        auth = headers.get("authorization") or ""
        key = auth.split()[-1] if auth else ""
        return status, {"error": {
            "message": f"key {key} is not valid here; request headers: {dict(headers)}",
            "type": "server_error" if status >= 500 else "authentication_error",
            "authorization": auth}}

    return fault


class FakeOpenAI:
    def __init__(self, reply: Callable[[Messages], str] = first_line_of_last_message, *,
                 models: tuple[str, ...] = ("fake-model",), fail_first: int = 0,
                 fail_status: int = 429, delay_s: float = 0.0, hang: bool = False,
                 usage: bool = True, usage_fields: tuple[str, ...] | None = None,
                 fault: Fault | None = None, die_after: int | None = None,
                 drop_first: int = 0) -> None:
        self.reply = reply
        self.models = models
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay_s = delay_s
        self.hang = hang
        self.usage = usage
        self.usage_fields = usage_fields
        self.fault = fault
        self.die_after = die_after
        self.drop_first = drop_first
        self.dropped = 0
        self.answered = 0
        self.dead = False
        self._killed = False
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Stop serving and close the port: connections are refused from now on."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
            self.dead = True
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str, headers: Mapping[str, str], body: dict[str, Any]
                ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            self.requests.append((path, headers.get("authorization"), body))
            number = len(self.requests)
        if path != "/v1/chat/completions":
            return 404, {}, {"error": {"message": f"no route {path}", "type": "not_found"}}
        if number <= self.fail_first:
            return self.fail_status, {"retry-after-ms": "1"}, {
                "error": {"message": f"scripted failure {self.fail_status}",
                          "type": "rate_limit_exceeded" if self.fail_status == 429
                          else "server_error"}}
        if self.fault is not None:
            scripted = self.fault(number, body, headers)
            if scripted is not None:
                status, payload = scripted
                return status, {"retry-after-ms": "1"}, payload
        if body.get("model") not in self.models:
            return 404, {}, {"error": {"message": f"The model {body.get('model')!r} does not "
                                                  "exist", "type": "invalid_request_error",
                                       "code": "model_not_found"}}
        if self.delay_s:
            time.sleep(self.delay_s)
        messages = body["messages"]
        text = self.reply(messages)
        with self._lock:
            self.answered += 1
            self.dead = self.answered == self.die_after  # later requests are dropped
        reply: dict[str, Any] = {
            "id": f"chatcmpl-{number}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
        }
        if self.usage:
            prompt = sum(len(str(m["content"]).split()) for m in messages)
            completion = len(text.split())
            usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion}
            if self.usage_fields is not None:
                usage = {k: v for k, v in usage.items() if k in self.usage_fields}
            reply["usage"] = usage
        return 200, {}, reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                with fake._lock:
                    drop = fake.dead or fake.dropped < fake.drop_first
                    fake.dropped += drop
                if drop:  # crashed or restarting: the connection drops without an answer
                    self.close_connection = True
                    return
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if fake.hang:
                    with fake._lock:
                        fake.requests.append((self.path, self.headers.get("authorization"),
                                              body))
                    fake._stopping.wait(timeout=300)  # bounded even if a test forgets to stop
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = fake.respond(self.path, headers, body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass
                if status == 200 and fake.answered == fake.die_after:
                    # from another thread: shutdown() waits for serve_forever to stop
                    threading.Thread(target=fake.kill, daemon=True).start()

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler
