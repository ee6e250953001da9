"""Live progress lines (pytest_plugin.progress), end to end with pytester: a slow fake benchmark
reports its steps through the llmbench logger; the lines appear without flags, in place on a
terminal and as plain lines elsewhere; -q and --bench-progress off silence them."""

from __future__ import annotations

import pytest
import torch  # noqa: F401  (imported before pytester's sys.modules snapshot)

SLOW = """
import time
from llmbench.measure.progress import StepProgress, get_logger
from llmbench.regression.results import Result, cost

def test_slow(regression):
    def run(seed):
        progress = StepProgress("fake lora", total=3, logger=get_logger("train"), every_s=0.0)
        for step in range(1, 4):
            time.sleep(0.05)
            progress.update(step, loss=2.0 / step)
        return Result("lora", {}, {"runtime_s": cost(0.15, "s", kind="time")})
    regression.measure(run, seed=0)

def test_quick():
    pass

def test_unit_that_logs():  # not a benchmark: its log lines stay in its captured log
    get_logger("train").info("a unit test's own log line")
"""

TTY = """
import pytest

class Terminal:
    # pytest's output file, seen as a terminal, with every raw write kept in raw.txt
    def __init__(self, file):
        self.file, self.raw = file, open("raw.txt", "w", encoding="utf-8")
    def write(self, text):
        self.raw.write(text)
        return self.file.write(text)
    def flush(self):
        self.raw.flush()
        self.file.flush()
    def isatty(self):
        return True
    def __getattr__(self, name):
        return getattr(self.file, name)

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    reporter.isatty = lambda: True
    reporter._tw._file = Terminal(reporter._tw._file)
"""


@pytest.fixture
def slow(pytester):
    pytester.makepyfile(test_slow=SLOW)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("--bench-profile", "smoke", "--bench-repeats", "1",
                              "--update-baselines", "-p", "no:randomly", *args)


def test_progress_lines_appear_without_flags(slow):
    result = run(slow)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["test_slow.py ",
                                 "⋯ slow 0:0? · fake lora: step 1/3 (33%) loss=2 · * s/step · "
                                 "~* s left",
                                 "test_slow.py ..*"])  # pytest's status after its file name
    output = result.stdout.str()
    assert "step 2/3" not in output  # plain lines: at most one every PLAIN_EVERY_S per case
    assert "a unit test's own log line" not in output  # progress is for benchmarks only


@pytest.mark.parametrize("flags", [("-q",), ("--bench-progress", "off")])
def test_quiet_or_off_silences_them(slow, flags):
    result = run(slow, *flags)
    result.assert_outcomes(passed=3)
    assert "⋯" not in result.stdout.str()


def test_on_shows_them_even_with_q(slow):
    result = run(slow, "-q", "--bench-progress", "on")
    result.assert_outcomes(passed=3)
    assert "fake lora: step 1/3" in result.stdout.str()


def test_on_a_terminal_the_line_is_rewritten_in_place_and_pytest_output_stays(slow):
    slow.makeconftest(TTY)
    run(slow).assert_outcomes(passed=3)
    raw = (slow.path / "raw.txt").read_bytes().decode("utf-8")  # "\r" kept as written
    for step in (1, 2, 3):  # each update returns to the start of the same line
        assert f"· fake lora: step {step}/3" in raw
    assert raw.count("\r⋯ slow 0:0") == 3
    assert "\n" not in raw[raw.index("\r⋯ slow"):raw.index("step 3/3")]
    # then the line is blanked and pytest's file name written over it, its dots after it
    after = raw[raw.index("step 3/3"):]
    assert "\n" not in after[:after.index("\rtest_slow.py ..")]


LIVE = """
import time
from pathlib import Path

import pytest
from llmbench.measure.progress import StepProgress, get_logger
from llmbench.regression.results import Result, cost

def test_live(regression):
    def run(seed):
        StepProgress("fake lora", total=3, logger=get_logger("train")).update(1, loss=2.0)
        deadline = time.monotonic() + 60
        while not Path("go").exists():  # the outer test creates it once it has read the line
            if time.monotonic() > deadline:
                pytest.fail("the progress line did not reach the terminal while the test ran")
            time.sleep(0.05)
        return Result("lora", {}, {"runtime_s": cost(0.15, "s", kind="time")})
    regression.measure(run, seed=0)
"""


def test_lines_reach_a_piped_log_while_the_benchmark_runs(pytester):
    """A real pytest process with its output on a pipe, as in a CI log: pytest captures each
    test's output at the file descriptor, so a progress line must get past that capture, and be
    flushed, while the benchmark is still running (the benchmark waits until it was read)."""
    import queue
    import subprocess
    import sys
    import threading

    pytester.makepyfile(test_live=LIVE)
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "test_live.py", "--bench-profile", "smoke",
         "--bench-repeats", "1", "--update-baselines", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    seen, output = False, []
    try:
        while not seen:
            line = lines.get(timeout=90)
            output.append(line)
            seen = "⋯ live" in line and "fake lora: step 1/3" in line
        (pytester.path / "go").touch()
        assert process.wait(timeout=90) == 0, "".join(output)
    finally:
        process.kill()
    assert seen
