"""Injected slowdowns against the gate, end to end (pytester): a slowdown that burns CPU, one
that waits, one that slows the reference as well, each on a calm machine and on a machine that
competing processes keep busy. Every slowdown is "regressed" or "busy", never "improved"; an
unchanged benchmark on a busy machine is "busy", never "regressed"; waiting is not busyness.

The fake benchmark trains for a few steps of pure-Python work (CPU work, not a timed spin, so a
busy machine stretches it) with a reference step timed around each, as the LoRA suite does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch  # noqa: F401  (imported before pytester's sys.modules snapshot)

BENCH = """
import os, statistics, time
from llmbench.regression.results import Result, cost, quality

UNITS_PER_MS = float(os.environ["FAKE_UNITS_PER_MS"])
STEPS, STEP_MS, REFERENCE_MS = 10, 50, 10


def work(ms):
    total = 0
    for i in range(int(ms * UNITS_PER_MS)):
        total += i * i


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_train(regression):
    slow = float(os.environ.get("FAKE_SLOW", "0"))  # the step alone: 2 = 3x
    how = os.environ.get("FAKE_HOW", "burn")  # burn: more CPU work; wait: a sleep
    shared = float(os.environ.get("FAKE_SHARED", "0"))  # a library the step and reference use
    reference_only = float(os.environ.get("FAKE_REFERENCE_SLOW", "0"))

    def step():
        work(STEP_MS * (1 + (slow if how == "burn" else 0) + shared))
        if how == "wait":
            time.sleep(slow * STEP_MS / 1000)

    def reference():
        work(REFERENCE_MS * (1 + shared + reference_only))

    def run(seed):
        references, steps = [timed(reference)], []
        for _ in range(STEPS):
            steps.append(timed(step))
            references.append(timed(reference))
        ratios = [s / ((references[i] + references[i + 1]) / 2) for i, s in enumerate(steps)]
        return Result("lora", {"steps": STEPS}, {
            "final_train_loss": quality(1.0, "nats", kind="loss"),
            "runtime_s": cost(sum(steps), "s", kind="time"),
            "median_step_s": cost(statistics.median(steps), "s", kind="time"),
            "relative_step_cost": cost(statistics.median(ratios), "x reference",
                                       kind="relative_time")})

    regression.measure(run, seed=0)
"""


def _units_per_ms() -> float:
    units = 200_000
    start = time.perf_counter()
    total = 0
    for i in range(units):
        total += i * i
    return units / ((time.perf_counter() - start) * 1000)


@pytest.fixture(scope="module")
def units_per_ms():
    return min(_units_per_ms() for _ in range(3))


@pytest.fixture
def bench(pytester, monkeypatch, units_per_ms):
    for var in ("FAKE_SLOW", "FAKE_HOW", "FAKE_SHARED", "FAKE_REFERENCE_SLOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FAKE_UNITS_PER_MS", str(units_per_ms))
    pytester.makepyfile(test_bench=BENCH)
    pytester.runpytest("--bench-profile", "smoke", "--bench-repeats", "1",
                       "--update-baselines").assert_outcomes(passed=1)
    return pytester


class BusyMachine:
    """CPU-bound processes, one more than the machine has cores: this process then gets at
    most about two thirds of a core, and waits in the run queue for the rest."""

    def __enter__(self):
        count = (os.cpu_count() or 1) + 1
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                          for _ in range(count)]
        time.sleep(0.3)  # let the scheduler spread them
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


def judged(pytester, busy: bool, **fault: str) -> dict:
    for name, value in fault.items():
        os.environ[f"FAKE_{name.upper()}"] = value
    try:
        if busy:
            with BusyMachine():
                pytester.runpytest("--bench-profile", "smoke", "--bench-repeats", "1")
        else:  # a passing load spike on the runner is measured again, not taken as the verdict
            pytester.runpytest("--bench-profile", "smoke", "--bench-repeats", "1",
                               "--bench-confirm", "1")
    finally:
        for name in fault:
            os.environ.pop(f"FAKE_{name.upper()}", None)
    data = json.loads((pytester.path / ".llmbench" / "results.json").read_text())
    (record,) = data["benchmarks"]
    return record


def verdicts(record: dict) -> dict[str, str]:
    return {name: row["verdict"] for name, row in record["comparison"].items()}


# Unchanged timings of one sample against one may move by tens of percent on a shared runner:
# within their declared drift, "within noise" (≈) is as right as "pass".
SAME = ("pass", "within noise")
CALM = [
    # (fault, outcome, runtime_s verdicts, relative_step_cost verdicts)
    ({}, "pass", SAME, SAME),
    ({"slow": "2", "how": "burn"}, "regressed", ("regressed",), ("regressed",)),
    ({"slow": "2", "how": "wait"}, "regressed", ("regressed",), ("regressed",)),
    # a library both use slowed the step and its reference alike: the ratio cannot see it
    ({"shared": "2"}, "regressed", ("regressed",), SAME),
    # ...and slowed the reference more than the step: never an improvement
    ({"shared": "2", "reference_slow": "3"}, "regressed", ("regressed",), ("conflicting",)),
    # the reference alone slowed: the step is no faster
    ({"reference_slow": "2"}, "pass", SAME, ("within noise",)),
]


@pytest.mark.parametrize(("fault", "outcome", "runtime", "relative"), CALM,
                         ids=["unchanged", "burn", "wait", "shared", "shared-reference-slower",
                              "reference-slower"])
def test_on_a_calm_machine_every_slowdown_regresses_and_none_improves(
        bench, fault, outcome, runtime, relative):
    record = judged(bench, busy=False, **fault)
    seen = verdicts(record)
    message = record.get("message") or ""
    assert record["outcome"] == outcome, message
    assert seen["runtime_s"] in runtime and seen["relative_step_cost"] in relative, message
    assert "busy" not in record["result"]
    assert "consider accepting" not in message


def test_a_step_that_got_faster_on_both_views_is_improved_with_the_accept_hint(bench):
    os.environ["FAKE_SLOW"] = "1"
    try:  # the baseline: a step twice as slow as today's
        bench.runpytest("--bench-profile", "smoke", "--bench-repeats", "1",
                        "--update-baselines").assert_outcomes(passed=1)
    finally:
        os.environ.pop("FAKE_SLOW")
    record = judged(bench, busy=False)
    assert record["outcome"] == "improved", record.get("message")
    assert verdicts(record)["relative_step_cost"] == "improved"
    assert "consider accepting the new values" in record["message"]


@pytest.mark.parametrize("fault", [{}, {"slow": "2", "how": "burn"},
                                   {"slow": "2", "how": "wait"}, {"shared": "2"}],
                         ids=["unchanged", "burn", "wait", "shared"])
def test_on_a_busy_machine_timings_are_busy_never_regressed_or_improved(bench, fault):
    record = judged(bench, busy=True, **fault)
    seen = verdicts(record)
    assert record["outcome"] == "busy", record.get("message")
    assert seen["runtime_s"] == seen["relative_step_cost"] == "busy"
    assert seen["final_train_loss"] == "pass"
    assert record["result"]["busy"].startswith("machine busy: this process waited")
    assert "held by other work" in record["result"]["busy"]
