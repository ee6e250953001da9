"""An in-memory stand-in for the parts of the LangSmith REST API that llmbench uses.

Serves on 127.0.0.1 (point ``LANGSMITH_ENDPOINT`` at ``server.url``) and keeps what arrived so
tests can assert on it: datasets, examples, experiments (sessions), runs and feedback. Runs may
arrive as multipart ingestion (the client's default), JSON batches or single posts/patches.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from requests_toolbelt.multipart.decoder import MultipartDecoder


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class FakeLangSmith:
    TENANT = "00000000-0000-0000-0000-00000000fa4e"

    def __init__(self, *, echo_key_status: int | None = None) -> None:
        # echo_key_status: answer every request but /info with this status and an error body
        # that echoes the request's x-api-key and headers (a server that leaks what it got)
        self.echo_key_status = echo_key_status
        self.datasets: dict[str, dict[str, Any]] = {}
        self.examples: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.feedback: list[dict[str, Any]] = []
        # (method, path, x-api-key header) of every request, in order
        self.requests: list[tuple[str, str, str | None]] = []
        self.raw_bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeLangSmith:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what the tests read --------------------------------------------------------------

    def runs_in(self, session_name: str) -> list[dict[str, Any]]:
        session_ids = {sid for sid, s in self.sessions.items() if s["name"] == session_name}
        return [r for r in self.runs.values()
                if r.get("session_name") == session_name or r.get("session_id") in session_ids]

    def feedback_for(self, run_id: str) -> dict[str, dict[str, Any]]:
        return {f["key"]: f for f in self.feedback if str(f["run_id"]) == str(run_id)}

    # --- request handling -----------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, payload: Any = None) -> None:
                data = json.dumps(payload if payload is not None else {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append((self.command, self.path, self.headers.get("x-api-key")))
                    fake.raw_bodies.append(body)
                    if fake.echo_key_status and not self.path.startswith("/info"):
                        status, payload = fake.echo_key_status, {
                            "detail": f"invalid key {self.headers.get('x-api-key')}; headers: "
                                      f"{dict(self.headers)}"}
                    else:
                        status, payload = fake._route(self.command, self.path, self.headers,
                                                      body)
                self._reply(status, payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        return Handler

    def _route(self, method: str, raw_path: str, headers: Any, body: bytes
               ) -> tuple[int, Any]:
        url = urlparse(raw_path)
        path = url.path.rstrip("/")
        query = parse_qs(url.query)
        parts = path.strip("/").split("/")
        data = json.loads(body) if body and "json" in (headers.get("Content-Type") or "") else None

        if path == "/info":
            return 200, {"version": "0.0.0-fake", "instance_flags": {},
                         "batch_ingest_config": {"size_limit": 100, "scale_up_nthreads_limit": 1,
                                                 "scale_up_qsize_trigger": 1000,
                                                 "scale_down_nempty_trigger": 4}}
        if path == "/datasets" and method == "GET":
            names = query.get("name", [])
            found = [d for d in self.datasets.values() if not names or d["name"] in names]
            return 200, found
        if path == "/datasets" and method == "POST":
            if any(d["name"] == data["name"] for d in self.datasets.values()):
                return 409, {"detail": "dataset already exists"}
            dataset = {**data, "id": str(uuid.uuid4()), "created_at": _now(),
                       "modified_at": _now(), "tenant_id": self.TENANT}
            self.datasets[dataset["id"]] = dataset
            return 200, dataset
        if path == "/examples/bulk" and method == "POST":
            created = []
            for item in data:
                example = {**item, "id": str(item.get("id") or uuid.uuid4()),
                           "created_at": _now(), "modified_at": _now()}
                self.examples[example["id"]] = example
                created.append(example)
            return 200, created
        if path == "/examples" and method == "GET":
            wanted = set(query.get("dataset", []))
            found = [e for e in self.examples.values() if not wanted or e["dataset_id"] in wanted]
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", [str(len(found))])[0])
            return 200, found[offset:offset + limit]
        if path == "/sessions" and method == "POST":
            if any(s["name"] == data["name"] for s in self.sessions.values()):
                return 409, {"detail": "session already exists"}
            session = {**data, "id": str(data.get("id") or uuid.uuid4()),
                       "tenant_id": self.TENANT, "start_time": data.get("start_time") or _now()}
            self.sessions[session["id"]] = session
            return 200, session
        if path == "/sessions" and method == "GET":
            names = query.get("name", [])
            return 200, [s for s in self.sessions.values() if not names or s["name"] in names]
        if len(parts) == 2 and parts[0] == "sessions" and method in ("PATCH", "GET"):
            session = self.sessions.get(parts[1])
            if session is None:
                return 404, {"detail": "no such session"}
            session.update({k: v for k, v in (data or {}).items() if v is not None})
            return 200, session
        if path == "/runs/multipart" and method == "POST":
            self._ingest_multipart(headers.get("Content-Type"), body)
            return 202, {}
        if path == "/runs/batch" and method == "POST":
            for run in data.get("post", []):
                self._upsert_run(run)
            for run in data.get("patch", []):
                self._upsert_run(run)
            return 202, {}
        if path == "/runs" and method == "POST":
            self._upsert_run(data)
            return 202, {}
        if len(parts) == 2 and parts[0] == "runs" and method == "PATCH":
            self._upsert_run({**data, "id": parts[1]})
            return 202, {}
        if path == "/feedback" and method == "POST":
            feedback = {**data, "id": str(data.get("id") or uuid.uuid4()),
                        "created_at": _now(), "modified_at": _now()}
            self.feedback.append(feedback)
            return 200, feedback
        return 404, {"detail": f"fake LangSmith does not serve {method} {path}"}

    def _upsert_run(self, run: dict[str, Any]) -> None:
        run_id = str(run["id"])
        self.runs.setdefault(run_id, {}).update(run)

    def _ingest_multipart(self, content_type: str, body: bytes) -> None:
        fields: dict[str, dict[str, Any]] = {}
        for part in MultipartDecoder(body, content_type).parts:
            disposition = part.headers[b"Content-Disposition"].decode()
            name = disposition.split('name="', 1)[1].split('"', 1)[0]
            kind, item_id, *field = name.split(".")
            value = json.loads(part.content) if part.content else None
            entry = fields.setdefault(f"{kind}.{item_id}", {"kind": kind, "id": item_id})
            if field:
                entry[field[0]] = value
            else:
                entry.update(value or {})
        for entry in fields.values():
            kind = entry.pop("kind")
            if kind in ("post", "patch"):
                self._upsert_run(entry)
            elif kind == "feedback":
                self.feedback.append(entry)
