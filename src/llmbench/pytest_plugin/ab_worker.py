"""This pytest session as one side's worker of ``llmbench ab`` (``--ab-worker R,W``).

The ``regression`` fixture then judges nothing: ``measure(run, seed)`` announces the benchmark
and runs ``run(seed)`` once per ``round`` command (with the CPU-share check of every repeat,
without the speed probe: both sides of a pair run at the same moment or seconds apart, so the
machine's speed cancels in their ratio), until ``next``. The controller (``llmbench.ab``)
pairs the rounds of both sides and judges them. The worker writes nothing: no report, no
baseline, no history. The messages are in ``llmbench.ab.protocol``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from llmbench.ab.protocol import ONLY_OPTION, PROTOCOL_VERSION, WORKER_OPTION, Channel, parse_fds
from llmbench.regression.results import Result


def add_worker_options(group: Any) -> None:
    group.addoption(WORKER_OPTION, default=None, metavar="R,W",
                    help="serve rounds to `llmbench ab` over these file descriptors (set by "
                         "llmbench ab, not by hand)")
    group.addoption(ONLY_OPTION, default=None, metavar="NODEID",
                    help="with --ab-worker: run this test alone (a cold round)")


class RoundServer:
    """The worker's end of the channel, held by the session while ``llmbench ab`` drives it."""

    def __init__(self, channel: Channel, only: str | None = None) -> None:
        self.channel = channel
        self.only = only

    @classmethod
    def from_config(cls, config: pytest.Config) -> RoundServer | None:
        spec = config.getoption("ab_worker")
        if not spec:
            return None
        read, write = parse_fds(spec)
        channel = Channel(os.fdopen(read, "r", encoding="utf-8"),
                          os.fdopen(write, "w", encoding="utf-8"))
        server = cls(channel, config.getoption("ab_only"))
        channel.send({"event": "hello", "protocol": PROTOCOL_VERSION,
                      "llmbench": os.path.dirname(os.path.dirname(__file__)),
                      "python": sys.version.split()[0],
                      "executable": sys.executable, "pid": os.getpid()})
        return server

    def serve(self, announcement: dict[str, Any], one_round: Callable[[], Result] | None,
              measured: Result | None = None) -> Result:
        """Answer ``round`` commands until ``next``; the last round's result is returned to
        the test. ``one_round`` runs the benchmark once; a benchmark that measured itself
        (``measured``, from ``regression.check``) has that one round only."""
        self.channel.send({"event": "ready", "repeatable": one_round is not None,
                           **announcement})
        last: Result | None = None
        while True:
            command = self._command()
            if command == "next":
                break
            if one_round is None and (last is not None or measured is None):
                self.channel.send({"event": "stopped", "error": "this benchmark measures "
                                   "itself once per test (regression.check): one round only"})
                continue
            try:
                result = one_round() if one_round is not None else measured
            except BaseException as exc:  # a skip or a failure: pytest reports it after this
                self.channel.send({"event": "stopped", "error": _describe(exc),
                                   "skipped": isinstance(exc, pytest.skip.Exception)})
                raise
            assert result is not None
            self.channel.send({"event": "round", "result": result.to_dict()})
            last = result
        if last is None:
            pytest.skip("llmbench ab: not measured on this side (the other side did not "
                        "reach this benchmark)")
        return last

    def _command(self) -> str:
        message = self.channel.receive()
        command = (message or {}).get("do", "quit")
        if command == "quit":
            pytest.exit("llmbench ab: the controller ended this worker", returncode=0)
        return command

    def wait_to_start(self, nodeid: str) -> None:
        """A cold round's test waits here, before its body runs, until the controller starts
        both sides together (a test that measures itself, ``regression.check``, measures in
        its body)."""
        self.channel.send({"event": "start", "nodeid": nodeid})
        if self._command() != "round":
            pytest.skip("llmbench ab: not started")


class WorkerHooks:
    """The hooks a worker needs, registered only in a worker session."""

    def __init__(self, server: RoundServer) -> None:
        self.server = server

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if not self.server.only:
            return
        kept = [item for item in items if item.nodeid == self.server.only]
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # "skipped": tests already marked to skip (GPU tests without CUDA): no rounds to plan
        self.server.channel.send({
            "event": "collected", "nodeids": [item.nodeid for item in session.items],
            "skipped": [item.nodeid for item in session.items
                        if item.get_closest_marker("skip")]})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        if self.server.only:
            self.server.wait_to_start(item.nodeid)
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.server.channel.send({"event": "finished", "nodeid": report.nodeid,
                                      "when": report.when, "outcome": report.outcome,
                                      "message": _report_message(report)})

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.server.channel.send({"event": "done", "exitstatus": int(exitstatus)})


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]


def _report_message(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)[-2000:]
