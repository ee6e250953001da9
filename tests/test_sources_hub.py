"""Hub reachability: asked once, quickly, before a benchmark waits a minute on retries."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llmbench.sources import hub


class HeadOnly(BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        self.send_response(404)  # any answer means the hub is reachable
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_hub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HeadOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.unreachable.cache_clear()


def test_reachable_hub_is_no_problem(local_hub, tmp_path):
    assert hub.hub_problem(["facebook/opt-350m"], cache=tmp_path, endpoint=local_hub) is None


def test_unreachable_hub_names_the_repositories_and_the_reason(closed_port, tmp_path):
    problem = hub.hub_problem(["facebook/opt-350m", "sahil2801/CodeAlpaca-20k"], cache=tmp_path,
                              endpoint=closed_port)
    assert problem.startswith("needs the Hugging Face hub for facebook/opt-350m, "
                              "sahil2801/CodeAlpaca-20k (not cached locally)")
    assert f"{closed_port} is unreachable" in problem


def test_cached_repositories_need_no_hub(closed_port, tmp_path):
    (tmp_path / "models--facebook--opt-350m" / "snapshots" / "abc").mkdir(parents=True)
    (tmp_path / "datasets--sahil2801--CodeAlpaca-20k" / "snapshots" / "def").mkdir(parents=True)
    assert hub.is_cached("facebook/opt-350m", tmp_path)
    assert hub.hub_problem(["facebook/opt-350m", "sahil2801/CodeAlpaca-20k"], cache=tmp_path,
                           endpoint=closed_port) is None
    problem = hub.hub_problem(["facebook/opt-350m", "facebook/opt-125m"], cache=tmp_path,
                              endpoint=closed_port)
    assert "for facebook/opt-125m (not cached locally)" in problem


def test_offline_mode_is_a_problem_without_asking_the_network(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "unreachable", lambda *a: pytest.fail("probed the network"))
    problem = hub.hub_problem(["facebook/opt-350m"], cache=tmp_path)
    assert "HF_HUB_OFFLINE is set" in problem
