"""Which worker runs which benchmark in a spread CPU run: a group (the judge and the RAG
configurations it scores) stays on one worker, the longest work goes first, and the last run's
times order the next one."""

from __future__ import annotations

import json

import pytest

from llmbench.pytest_plugin.scheduling import Plan


def simulate(plan: Plan, workers: list[str]) -> dict[str, list[int]]:
    """Hand out every test the way the scheduler does, each worker holding at most two, and
    the worker that finishes first asking next (each test takes its planned cost, unknown 1)."""
    pending = list(range(len(plan.collection)))
    live: dict[str, list[int]] = {w: [] for w in workers}
    ran: dict[str, list[int]] = {w: [] for w in workers}
    clock = {w: 0.0 for w in workers}
    stopped: set[str] = set()

    def top_up(worker: str) -> None:
        while worker not in stopped and len(live[worker]) < 2:
            index = plan.pick(worker, pending, live)
            if index is None:
                stopped.add(worker)
                return
            pending.remove(index)
            live[worker].append(index)

    for worker in workers:
        top_up(worker)
    while any(live.values()):
        worker = min((w for w in workers if live[w]), key=lambda w: clock[w])
        index = live[worker].pop(0)
        ran[worker].append(index)
        cost = plan.cost[index]
        clock[worker] += 1.0 if cost == float("inf") else cost
        top_up(worker)
    return ran


def test_a_group_stays_on_the_worker_that_took_its_first_test():
    tests = ["gen", "judge", "lora1", "lora2", "rag1", "rag2", "rag3", "quant1", "quant2"]
    groups = {"judge": "judge:x", "rag1": "judge:x", "rag2": "judge:x", "rag3": "judge:x"}
    ran = simulate(Plan(tests, groups, {}), ["gw0", "gw1"])
    holders = {w for w, indices in ran.items() for i in indices if tests[i] in groups}
    assert len(holders) == 1
    assert sorted(i for indices in ran.values() for i in indices) == list(range(len(tests)))


def test_without_times_the_collection_order_is_kept():
    tests = [f"t{i}" for i in range(6)]
    ran = simulate(Plan(tests, {}, {}), ["gw0", "gw1"])
    # the first four handed out (two per worker) are the first four collected
    assert sorted(ran["gw0"][:2] + ran["gw1"][:2]) == [0, 1, 2, 3]


def test_the_longest_work_goes_first_a_group_counting_as_one():
    tests = ["short", "long", "g1", "g2", "g3"]
    groups = {"g1": "g", "g2": "g", "g3": "g"}
    durations = {"short": 5.0, "long": 30.0, "g1": 15.0, "g2": 15.0, "g3": 15.0}
    plan = Plan(tests, groups, durations)
    live: dict[str, list[int]] = {"gw0": [], "gw1": []}
    pending = list(range(5))
    first = plan.pick("gw0", pending, live)
    assert tests[first].startswith("g")  # the group (45 s) before the 30 s test
    pending.remove(first)
    live["gw0"].append(first)
    assert tests[plan.pick("gw1", pending, live)] == "long"
    assert tests[plan.pick("gw0", pending, live)].startswith("g")  # its own group next


def test_times_are_rounded_so_small_differences_keep_the_order():
    tests = ["a", "b"]
    assert Plan(tests, {}, {"a": 6.1, "b": 6.9}).cost == {0: 5.0, 1: 5.0}
    assert Plan(tests, {}, {"a": 6.1, "b": 6.9})._longest([0, 1]) == 0  # collection order


@pytest.mark.parametrize(("waiting", "steals"), [(1, False), (2, True)])
def test_an_idle_worker_takes_from_another_group_only_when_two_wait(waiting, steals):
    tests = ["g0", *[f"g{i + 1}" for i in range(waiting)]]
    plan = Plan(tests, {name: "g" for name in tests}, {})
    live: dict[str, list[int]] = {"gw0": [], "gw1": []}
    pending = list(range(len(tests)))
    first = plan.pick("gw0", pending, live)
    pending.remove(first)
    live["gw0"].append(first)
    assert (plan.pick("gw1", pending, live) is not None) is steals


def test_a_crashed_workers_group_goes_to_another():
    tests = ["g1", "g2", "g3"]
    plan = Plan(tests, {name: "g" for name in tests}, {})
    live: dict[str, list[int]] = {"gw0": [], "gw1": []}
    pending = [0, 1, 2]
    pending.remove(plan.pick("gw0", pending, live))
    del live["gw0"]  # xdist removed the crashed worker
    assert plan.pick("gw1", pending, live) is not None
    assert plan.owner["g"] == "gw1"


GROUPED = """
import os, time
import pytest

def _log(name):
    with open(os.environ["LOG_FILE"], "a") as fh:
        fh.write(f"{name} {os.environ.get('PYTEST_XDIST_WORKER', 'main')} {time.time()}\\n")

@pytest.mark.xdist_group("judge")
@pytest.mark.parametrize("case", range(4))
def test_grouped(case):
    _log(f"grouped{case}")
    time.sleep(0.2)

@pytest.mark.parametrize("case", range(4))
def test_free(case):
    _log(f"free{case}")
    time.sleep(0.05)

def test_long():
    _log("long")
    time.sleep(1.5)
"""


def _log_lines(path) -> list[tuple[str, str, float]]:
    lines = [line.split() for line in path.read_text().splitlines()]
    path.unlink()
    return [(name, worker, float(at)) for name, worker, at in lines]


def test_a_spread_run_keeps_groups_together_and_records_its_times(pytester, monkeypatch):
    pytester.mkdir("benchmarks")
    (pytester.path / "benchmarks" / "test_grouped.py").write_text(GROUPED)
    log = pytester.path / "order.log"
    monkeypatch.setenv("LOG_FILE", str(log))
    temp = pytester.mkdir("temp")
    monkeypatch.setenv("TMPDIR", str(temp))

    pytester.runpytest_subprocess("benchmarks", "--bench-workers", "2", "--bench-profile",
                                  "smoke").assert_outcomes(passed=9)
    # the controller's directories for the workers' groups and progress lines are gone
    assert not list(temp.glob("llmbench-*"))
    ran = _log_lines(log)
    assert len({worker for name, worker, _ in ran if name.startswith("grouped")}) == 1
    assert {worker for _, worker, _ in ran} == {"gw0", "gw1"}
    cached = json.loads((pytester.path / ".pytest_cache" / "v" / "llmbench" / "durations" /
                         "smoke").read_text())
    assert cached["benchmarks/test_grouped.py::test_long"] > 1.0
    assert set(cached) == {f"benchmarks/test_grouped.py::{name}" for name in [
        *(f"test_grouped[{i}]" for i in range(4)), *(f"test_free[{i}]" for i in range(4)),
        "test_long"]}


def test_the_last_runs_times_put_the_longest_first(pytester, monkeypatch):
    pytester.mkdir("benchmarks")
    (pytester.path / "benchmarks" / "test_grouped.py").write_text(GROUPED)
    log = pytester.path / "order.log"
    monkeypatch.setenv("LOG_FILE", str(log))
    times = pytester.path / ".pytest_cache" / "v" / "llmbench" / "durations"
    times.mkdir(parents=True)
    # as a run of the smoke profile left them; the embedded profile's are not used for it
    known = {f"benchmarks/test_grouped.py::test_{kind}[{i}]": 0.1
             for kind in ("grouped", "free") for i in range(4)}
    (times / "smoke").write_text(json.dumps(
        {**known, "benchmarks/test_grouped.py::test_long": 60.0}))
    (times / "embedded").write_text(json.dumps(
        {"benchmarks/test_grouped.py::test_free[3]": 600.0}))

    pytester.runpytest_subprocess("benchmarks", "--bench-workers", "2", "--bench-profile",
                                  "smoke").assert_outcomes(passed=9)
    ran = sorted(_log_lines(log), key=lambda line: line[2])
    # collected last, the first its worker ran; the times that round alike (0.1 s -> 0)
    # keep the collection order
    (worker,) = {w for name, w, _ in ran if name == "long"}
    assert [name for name, w, _ in ran if w == worker][0] == "long"
    assert [name for name, _, _ in ran if name.startswith("free")] == [
        f"free{i}" for i in range(4)]
