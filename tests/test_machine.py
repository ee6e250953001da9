"""measure.machine: busy only on evidence of other work, never from the process's share alone."""

from __future__ import annotations

import time

import pytest

from llmbench.measure.machine import ProcessClock, contention


def clock(wall=2.0, cpu=2.0, threads=1, cores=2, **evidence):
    return {"wall_s": wall, "cpu_s": cpu, "cpu_share": cpu / wall, "threads": threads,
            "cpu_count": cores, **evidence}


@pytest.mark.parametrize(("machine", "busy"), [
    # the 2-core VM, a one-thread loop of 2 s (measured): alone; beside one CPU-bound neighbour
    (clock(runqueue_s=0.0, other_cores=0.0), False),
    (clock(cpu=1.99, runqueue_s=0.0, other_cores=1.0), False),
    # ...beside two: 0.84 s in the run queue, 1.16 s of CPU
    (clock(cpu=1.16, runqueue_s=0.84, other_cores=1.6), True),
    # sleeping half of the time by itself, machine idle or with one neighbour: judged
    (clock(cpu=1.0, runqueue_s=0.0, other_cores=0.01), False),
    (clock(cpu=1.0, runqueue_s=0.01, other_cores=0.99), False),
    # waiting by itself AND two neighbours: part of the loss is theirs, cannot be told apart
    (clock(wall=1.5, cpu=0.58, runqueue_s=0.17, other_cores=1.61), True),
    # a process that mostly sleeps: a few ms of wake-up waits are most of its CPU time, but
    # nothing of its wall time
    (clock(wall=0.6, cpu=0.01, runqueue_s=0.01, other_cores=0.3), False),
    # the hypervisor took the CPU: steal counts as other work
    (clock(cpu=1.2, runqueue_s=0.0, other_cores=0.05, steal_cores=0.8), True),
    # a container's CPU quota throttled the process
    (clock(cpu=1.2, throttled_s=0.7), True),
    # two threads asked for, 1.5 cores kept busy, no other work: not busy
    (clock(cpu=3.0, threads=2, runqueue_s=0.0, other_cores=0.0), False),
    # no scheduler statistics: the CPU other processes left free stands in
    (clock(cpu=1.2, other_cores=1.5), True),
    (clock(cpu=1.0, other_cores=0.9), False),
    # too short to tell
    (clock(wall=0.3, cpu=0.1, runqueue_s=0.2), False),
])
def test_busy_needs_evidence_of_other_work(machine, busy):
    found = contention(machine)
    assert bool(found.busy) is busy, found
    if not busy and machine["cpu_share"] / machine["threads"] < 0.8 and machine["wall_s"] >= 0.5:
        assert "its timings are judged" in found.note


def test_the_busy_reason_says_what_was_measured():
    found = contention(clock(cpu=1.16, runqueue_s=0.84, other_cores=1.6))
    assert found.busy == ("machine busy: this process waited 0.84 s for a CPU held by other work "
                          "(other processes used 1.60 of 2 cores); it got 58% of the 1 core it "
                          "asked for over 2.0 s")
    waited = contention(clock(cpu=1.0, runqueue_s=0.0, other_cores=0.01))
    assert waited.note.startswith("it got 50% of the 1 core it asked for over 2.0 s, the rest off "
                                  "the CPU by itself")
    assert "0.00 s in the run queue" in waited.note


def test_the_clock_sees_a_sleep_as_waiting_not_as_other_work():
    with ProcessClock() as measured:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass
        time.sleep(0.3)
    machine = measured.to_dict()
    assert 0.55 < machine["wall_s"] < 2.0
    assert machine["cpu_s"] < 0.8 * machine["wall_s"]
    # the 0.3 s asleep is off the CPU but not in the run queue
    assert machine["runqueue_s"] <= machine["wall_s"] - machine["cpu_s"] - 0.25
    assert {"other_cores", "steal_cores", "cpu_count", "threads"} <= set(machine)
