"""One side's worker process: a pytest session started with ``--ab-worker`` and two pipes.

Its events are read by a thread into a queue, so the controller can wait on two workers at
once (a duet round) and give up on one that hangs. pytest's own output goes to a log file,
whose tail is quoted when a worker fails.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from llmbench.ab.protocol import ONLY_OPTION, PROTOCOL_VERSION, WORKER_OPTION

# Every worker runs quietly, writes no cache, and keeps pytest's collection order: both sides
# must reach the benchmarks in the same order (pytest-randomly would shuffle them per process).
WORKER_FLAGS = ("-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-bench-history")
STOP_WAIT_S = 10.0


class WorkerError(RuntimeError):
    """A worker did not answer as the protocol says (exited, hung, spoke another protocol)."""


@dataclass(frozen=True)
class Launch:
    """How to start a worker of one side: its interpreter, where it runs, its environment."""

    python: str
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


class Worker:
    def __init__(self, label: str, launch: Launch, pytest_args: Sequence[str], log_path: Path,
                 only: str | None = None) -> None:
        self.label = label
        self.log_path = log_path
        commands_r, commands_w = os.pipe()
        events_r, events_w = os.pipe()
        argv = [launch.python, "-m", "pytest", *pytest_args, *WORKER_FLAGS,
                WORKER_OPTION, f"{commands_r},{events_w}", *([ONLY_OPTION, only] if only else [])]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            try:
                self.process = subprocess.Popen(
                    argv, cwd=launch.cwd, env=launch.env, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, pass_fds=(commands_r, events_w))
            finally:
                os.close(commands_r)
                os.close(events_w)
        self._commands: IO[str] = os.fdopen(commands_w, "w", encoding="utf-8")
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.finished: dict[str, dict[str, Any]] = {}  # nodeid -> its "finished" event
        self.marked_skip: set[str] = set()  # tests collected with a skip mark
        threading.Thread(target=self._read, args=(os.fdopen(events_r, encoding="utf-8"),),
                         daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, events: IO[str]) -> None:
        with events:
            for line in events:
                try:
                    self._events.put(json.loads(line))
                except json.JSONDecodeError:
                    self._events.put({"event": "garbled", "line": line[:200]})
        self._events.put({"event": "exit", "returncode": self.process.wait()})

    def send(self, command: str) -> None:
        try:
            self._commands.write(json.dumps({"do": command}) + "\n")
            self._commands.flush()
        except (BrokenPipeError, ValueError):
            pass  # it exited; its "exit" event says so

    def next_event(self, timeout: float) -> dict[str, Any]:
        """The next event; "finished" ones are kept in ``finished`` and returned too."""
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return {"event": "timeout", "seconds": timeout}
        if event.get("event") == "finished":
            self.finished[event["nodeid"]] = event
        return event

    def wait_for(self, wanted: Sequence[str], timeout: float) -> dict[str, Any]:
        """Skip events until one of ``wanted`` (or the end: exit, timeout, garbled)."""
        while True:
            event = self.next_event(timeout)
            if event["event"] in (*wanted, "exit", "timeout", "garbled"):
                return event

    def wait_in_test(self, wanted: str, timeout: float) -> dict[str, Any]:
        """A cold worker's next ``wanted`` event (``start``, ``ready``) of its one test; its
        test ending first reads as a ``stopped`` answer, skipped or failed as pytest said."""
        event = self.wait_for((wanted, "done"), timeout)
        if event["event"] != "done":
            return event
        end = next(reversed(self.finished.values()), {})
        return {"event": "stopped", "skipped": end.get("outcome") == "skipped",
                "error": end.get("message") or "its test ended before measuring"}

    def handshake(self, timeout: float) -> list[str]:
        """Wait for ``hello`` and ``collected``; the node ids it will run, in order."""
        hello = self.wait_for(("hello",), timeout)
        if hello["event"] != "hello":
            raise WorkerError(self.failure(hello, "before it started serving"))
        if hello.get("protocol") != PROTOCOL_VERSION:
            raise WorkerError(f"{self.label} speaks protocol {hello.get('protocol')} (llmbench "
                              f"{hello.get('llmbench')}); this llmbench speaks "
                              f"{PROTOCOL_VERSION}")
        collected = self.wait_for(("collected",), timeout)
        if collected["event"] != "collected":
            raise WorkerError(self.failure(collected, "while collecting"))
        self.marked_skip = set(collected.get("skipped") or ())
        return list(collected["nodeids"])

    def failure(self, event: dict[str, Any], when: str) -> str:
        """One message for an event that ended the conversation, with the log's tail."""
        kind = event["event"]
        if kind == "exit":
            what = f"exited with code {event['returncode']} {when}"
        elif kind == "timeout":
            what = f"gave no answer for {event['seconds']:.0f} s {when}"
        else:
            what = f"wrote something that is not the protocol {when}: {event.get('line')!r}"
        return f"{self.label} {what}; its log ({self.log_path}) ends:\n{self.log_tail()}"

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])

    def pin(self, cpus: set[int]) -> None:
        """Run every thread of the worker on ``cpus`` (threads it starts later inherit it)."""
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            tids = [str(self.pid)]
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except (ProcessLookupError, PermissionError):
                continue  # a thread that ended meanwhile

    def stop(self, grace_s: float = STOP_WAIT_S) -> None:
        """Ask it to quit (it reads the command when it next waits for one); kill it after
        ``grace_s``."""
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            self._commands.close()
        except (OSError, ValueError):
            pass
