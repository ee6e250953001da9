"""Live progress of long benchmarks on the terminal, without flags.

The runners report what they do through the ``llmbench`` loggers at INFO (``measure.progress``:
"LoRA r=8 ...: step 12/30 (40%) loss=2.3 · 1.9 s/step · ~34 s left", repeats, questions k of n).
This plugin shows those lines while a benchmark runs, prefixed with the case and its elapsed
time:

* on a terminal, one line rewritten in place below pytest's own line (pytest's file line is
  written again after it, so its dots stay intact);
* elsewhere (CI logs) and with ``-v``, as plain lines, at most one per benchmark every
  ``PLAIN_EVERY_S``;
* under pytest-xdist, each worker writes its latest line to a file and the controller prints
  one line per worker whose line changed, every ``XDIST_EVERY_S``.

``-q`` or ``--bench-progress off`` silences it; ``--bench-progress on`` shows it even with -q.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

PLAIN_EVERY_S = 10.0
XDIST_EVERY_S = 10.0
DIR_KEY = "llmbench_progress_dir"


def wanted(config: pytest.Config) -> bool:
    setting = config.getoption("bench_progress")
    return setting == "on" or (setting == "auto" and config.get_verbosity() >= 0)


# Every pytest session running this plugin in this process, innermost last. A session run
# in-process inside a test (pytester) shares the ``llmbench`` logger with the outer one; only the
# innermost may show its lines: the outer one would suspend its own capture around the write,
# which puts back the sys.stdout its capture replaced and so undoes the inner run's (pytester's)
# own replacement, and the inner run's output would go to the outer test's capture.
_SESSIONS: list[pytest.Config] = []


def install(config: pytest.Config) -> None:
    _SESSIONS.append(config)
    config.add_cleanup(lambda: _SESSIONS.remove(config) if config in _SESSIONS else None)
    if not wanted(config):
        return
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        directory = worker.get(DIR_KEY)
        if directory:
            config.pluginmanager.register(WorkerProgress(Path(directory), worker["workerid"]),
                                          "llmbench-progress")
        return
    config.pluginmanager.register(TerminalProgress(config), "llmbench-progress")


def case_name(nodeid: str) -> str:
    """``benchmarks/test_lora_ranks.py::test_lora_rank[cpu-r8]`` -> ``lora_rank[cpu-r8]``."""
    return nodeid.rpartition("::")[2].removeprefix("test_")


class _Feed(logging.Handler):
    """Hands every INFO line of the ``llmbench`` loggers to ``show``."""

    def __init__(self, show: Any) -> None:
        super().__init__(logging.INFO)
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.show(record.getMessage())
        except Exception:  # noqa: BLE001 - progress must never break a benchmark
            self.handleError(record)


class _Progress:
    """What runs now, and since when; the ``llmbench`` logger feeds ``show``."""

    def __init__(self) -> None:
        self.nodeid: str | None = None
        self.benchmarks: set[str] | None = None  # None: not collected here (xdist controller)
        self.started = 0.0
        self.feed = _Feed(self.show)
        self.logger = logging.getLogger("llmbench")
        self.level = self.logger.level

    def attach(self) -> None:
        self.logger.addHandler(self.feed)
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)

    def detach(self) -> None:
        self.logger.removeHandler(self.feed)
        self.logger.setLevel(self.level)

    def line(self, text: str) -> str:
        elapsed = int(time.monotonic() - self.started)
        return f"⋯ {case_name(self.nodeid or '')} {elapsed // 60}:{elapsed % 60:02d} · {text}"

    def show(self, text: str) -> None:
        raise NotImplementedError

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Progress is for benchmarks (tests using the ``regression`` fixture): a unit test that
        # calls llmbench code (a retry, a loader) keeps its log lines in its own captured log.
        self.benchmarks = {item.nodeid for item in items
                           if "regression" in getattr(item, "fixturenames", ())}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        shown = self.benchmarks is None or nodeid in self.benchmarks
        self.nodeid = nodeid if shown else None
        self.started = time.monotonic()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.attach()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.detach()


class TerminalProgress(_Progress):
    def __init__(self, config: pytest.Config) -> None:
        super().__init__()
        self.config = config
        self.shown_at: float | None = None  # when a line for the current test was last shown
        self.in_place = False  # a progress line is on the terminal, to be replaced
        self.interrupted = False  # plain lines came after pytest's file name

    @property
    def reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def show(self, text: str) -> None:
        tr = self.reporter
        if tr is None or self.nodeid is None:
            return
        # A test's output is captured at the file descriptor: written as it is, the line would
        # land in the test's captured stdout (shown only if it fails), not on the terminal. The
        # capture is suspended around the write, as pytest's own live logging does; only from
        # the main thread, where pytest's capture is driven.
        if threading.current_thread() is not threading.main_thread():
            return
        if _SESSIONS and _SESSIONS[-1] is not self.config:
            return  # a session nested in this one (pytester, in-process) is running
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            self._write(tr, text)
            return
        with capture.global_and_fixture_disabled():
            self._write(tr, text)

    def _write(self, tr: Any, text: str) -> None:
        if tr.isatty() and self.config.get_verbosity() == 0:
            if not self.in_place:
                tr.ensure_newline()
                self.in_place = True
            width = max(tr._tw.fullwidth - 1, 20)
            tr.rewrite(self.line(text)[:width], erase=True)
            tr.flush()
            return
        now = time.monotonic()
        if self.shown_at is None or now - self.shown_at >= PLAIN_EVERY_S:
            self.shown_at = now
            tr.write_line(self.line(text))
            tr.flush()  # a CI log is a pipe: unflushed, the lines would arrive in 8 KB bursts
            self.interrupted = self.config.get_verbosity() == 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Before pytest writes the test's status: put its file's name back at the start of a
        line (over the progress line on a terminal), so the status lands after it as usual."""
        if not (self.in_place or self.interrupted):
            return
        tr = self.reporter
        path = self.config.rootpath / report.nodeid.split("::")[0]
        if self.in_place:
            tr.rewrite("", erase=True)
            tr.rewrite(os.path.relpath(path, tr.startpath) + " ")
        else:  # the plain lines end with a newline
            tr.write(os.path.relpath(path, tr.startpath) + " ")
        tr.currentfspath = path
        self.in_place = self.interrupted = False

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.nodeid, self.shown_at = None, None

    # --- the xdist controller: the workers' latest lines --------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if not hasattr(self, "directory"):
            self.directory = Path(tempfile.mkdtemp(prefix="llmbench-progress-"))
            self.printed: dict[str, str] = {}
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._relay, daemon=True)
            self.thread.start()
        node.workerinput[DIR_KEY] = str(self.directory)

    def _relay(self) -> None:
        while not self.stop.wait(XDIST_EVERY_S):
            tr = self.reporter
            for path in sorted(self.directory.glob("*.txt")):
                try:
                    text = path.read_text(encoding="utf-8").strip()
                except OSError:
                    continue
                if text and self.printed.get(path.stem) != text and tr is not None:
                    self.printed[path.stem] = text
                    tr.write_line(f"[{path.stem}] {text}")
                    tr.flush()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self, "stop"):
            self.stop.set()
            self.thread.join()
            shutil.rmtree(self.directory, ignore_errors=True)


class WorkerProgress(_Progress):
    """An xdist worker: its latest line goes to ``<directory>/<worker id>.txt``."""

    def __init__(self, directory: Path, worker_id: str) -> None:
        super().__init__()
        self.path = directory / f"{worker_id}.txt"

    def show(self, text: str) -> None:
        if self.nodeid is None:
            return
        partial = self.path.with_suffix(".tmp")
        partial.write_text(self.line(text) + "\n", encoding="utf-8")
        partial.replace(self.path)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.nodeid = None
        self.path.unlink(missing_ok=True)
