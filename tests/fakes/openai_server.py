"""A local stand-in for an OpenAI-compatible chat-completions endpoint, on 127.0.0.1.

``FakeOpenAI`` serves ``POST /v1/chat/completions`` in a background thread. Point the client at
``server.url`` (``OPENAI_BASE_URL``). It answers with ``reply(messages)`` (default: the first
line of the last message), reports ``usage`` as whitespace-separated word counts, and can be told
to fail: ``fail_first=N`` answers the first N requests with ``fail_status`` (429 by default, with
a tiny ``retry-after-ms`` so client retries are fast), ``delay_s`` sleeps before answering,
``usage=False`` leaves usage out, and a model outside ``models`` gets a 404. Every request is
kept in ``requests`` (path, Authorization header, JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Messages = list[dict[str, Any]]


def first_line_of_last_message(messages: Messages) -> str:
    return str(messages[-1]["content"]).strip().splitlines()[0]


class FakeOpenAI:
    def __init__(self, reply: Callable[[Messages], str] = first_line_of_last_message, *,
                 models: tuple[str, ...] = ("fake-model",), fail_first: int = 0,
                 fail_status: int = 429, delay_s: float = 0.0, usage: bool = True) -> None:
        self.reply = reply
        self.models = models
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay_s = delay_s
        self.usage = usage
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str, auth: str | None, body: dict[str, Any]
                ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            self.requests.append((path, auth, body))
            failing = len(self.requests) <= self.fail_first
        if path != "/v1/chat/completions":
            return 404, {}, {"error": {"message": f"no route {path}", "type": "not_found"}}
        if failing:
            return self.fail_status, {"retry-after-ms": "1"}, {
                "error": {"message": f"scripted failure {self.fail_status}",
                          "type": "rate_limit_exceeded" if self.fail_status == 429
                          else "server_error"}}
        if body.get("model") not in self.models:
            return 404, {}, {"error": {"message": f"The model {body.get('model')!r} does not "
                                                  "exist", "type": "invalid_request_error",
                                       "code": "model_not_found"}}
        if self.delay_s:
            time.sleep(self.delay_s)
        messages = body["messages"]
        text = self.reply(messages)
        reply: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
        }
        if self.usage:
            prompt = sum(len(str(m["content"]).split()) for m in messages)
            completion = len(text.split())
            reply["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion}
        return 200, {}, reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, payload = fake.respond(self.path, self.headers.get("authorization"),
                                                        body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler
