"""A benchmark's paired rounds as verdicts (llmbench.ab.judge), on rounds written by hand."""

import math

import pytest

from llmbench.ab.judge import Policy, judge_rounds, unevenly_starved
from llmbench.regression.results import Result, cost, quality
from llmbench.regression.verdicts import Outcome, Verdict

ENV = {"device_class": "cpu", "hardware_key": "cpu/test x2", "cpu_signature": "sig",
       "python": "3.11", "torch_threads": 1, "packages": {"torch": "2.13.0"}}
OTHER_ENV = {**ENV, "packages": {"torch": "2.14.0"}}  # another environment (python:PATH)
# A slowdown's ratios wobble +-1.5 % round to round, in an order no test is symmetric to.
WOBBLE = [0.0, 0.012, -0.008, 0.015, -0.013, 0.004, -0.002, 0.009, -0.011, 0.006, -0.005, 0.001]


def rounds(runtimes, loss=1.25, tokens=None, rss=30.0, machine=None):
    out = []
    for i, runtime in enumerate(runtimes):
        metrics = {"runtime_s": cost(runtime, "s", kind="time"),
                   "rss_growth_mb": cost(rss, "MB", kind="memory"),
                   "final_train_loss": quality(loss, "nats", determinism="seeded",
                                               kind="loss"),
                   "trainable_params": quality(6144, "params", direction="exact")}
        if tokens is not None:
            metrics["tokens_per_s"] = cost(tokens / runtime, "tokens/s", direction="higher",
                                           kind="throughput")
        result = Result("lora", {"rank": 8}, metrics, repeats={"seed": 0})
        if machine:
            result.machine = dict(machine[i] if isinstance(machine, list) else machine)
            wall = result.machine["wall_s"]
            if wall >= 0.5 and result.machine.get("runqueue_s", 0) > 0.2 * wall:
                result.busy = "machine busy (as the worker's contention check says)"
                result.contended = True
        out.append(result)
    return out


def scaled(factor, n=12):
    return [2.0 * (1 + factor) * (1 + w) for w in WOBBLE[:n]]


def base(n=12):
    return [2.0 * (1 - w / 2) for w in WOBBLE[:n]]


def row(judgement, name):
    return next(r for r in judgement.rows if r.name == name)


def test_a_ten_percent_slower_candidate_regresses_and_says_by_how_much():
    judgement = judge_rounds(rounds(base()), rounds(scaled(0.10)), ENV, ENV)
    runtime = row(judgement, "runtime_s")
    assert runtime.verdict is Verdict.REGRESSED and runtime.decided
    assert runtime.b_vs_a().startswith("B vs A: +1")  # about +10 %, then the interval
    low, high = runtime.paired.centre.low, runtime.paired.centre.high
    assert 0 < runtime.paired.relative(low) < 0.10 < runtime.paired.relative(high)
    assert judgement.outcome is Outcome.REGRESSED and judgement.outcome.fails


def test_lower_throughput_is_worse():
    judgement = judge_rounds(rounds(base(), tokens=1000.0), rounds(scaled(0.10), tokens=1000.0),
                             ENV, ENV)
    assert row(judgement, "tokens_per_s").verdict is Verdict.REGRESSED


def test_a_faster_candidate_improves():
    judgement = judge_rounds(rounds(base()), rounds(scaled(-0.10)), ENV, ENV)
    assert row(judgement, "runtime_s").verdict is Verdict.IMPROVED
    assert judgement.outcome is Outcome.IMPROVED and not judgement.outcome.fails


def test_unchanged_code_is_a_decided_pass_when_the_rounds_are_tight():
    judgement = judge_rounds(rounds(base()), rounds(scaled(0.0)), ENV, ENV)
    runtime = row(judgement, "runtime_s")
    assert runtime.verdict is Verdict.PASS and runtime.decided
    assert judgement.decided and judgement.outcome is Outcome.PASS


def test_a_change_below_the_minimum_effect_passes():
    judgement = judge_rounds(rounds(base()), rounds(scaled(0.02)), ENV, ENV,
                             Policy(min_effect=0.05))
    assert row(judgement, "runtime_s").verdict is Verdict.PASS


def test_the_minimum_effect_is_the_users():
    judgement = judge_rounds(rounds(base()), rounds(scaled(0.04)), ENV, ENV,
                             Policy(min_effect=0.02))
    assert row(judgement, "runtime_s").verdict is Verdict.REGRESSED


def test_too_few_rounds_for_an_interval_stay_undecided():
    judgement = judge_rounds(rounds(base(5)), rounds(scaled(0.10, 5)), ENV, ENV)
    runtime = row(judgement, "runtime_s")
    assert not runtime.decided and not judgement.decided
    # beyond the minimum effect, suggestive at best with five rounds: never a regression
    assert runtime.verdict in (Verdict.UNCONFIRMED, Verdict.WITHIN_NOISE)


def test_memory_growth_within_its_floor_passes():
    # 2 MB more of a 30 MB growth is +7 %, but RSS moves by MBs: the 16 MB floor of the kind
    judgement = judge_rounds(rounds(base(), rss=30.0), rounds(base(), rss=32.0), ENV, ENV)
    assert row(judgement, "rss_growth_mb").verdict is Verdict.PASS


def test_seeded_loss_must_agree_exactly_on_the_same_platform():
    judgement = judge_rounds(rounds(base(), loss=1.25), rounds(base(), loss=1.2501), ENV, ENV)
    loss = row(judgement, "final_train_loss")
    assert loss.verdict is Verdict.REGRESSED and loss.paired is None
    assert loss.comparison.tolerance == "near-exact"


def test_seeded_loss_gets_its_tolerance_across_environments():
    judgement = judge_rounds(rounds(base(), loss=1.25), rounds(base(), loss=1.2501), ENV,
                             OTHER_ENV)
    assert row(judgement, "final_train_loss").verdict is Verdict.PASS


def test_a_seeded_metric_that_varies_within_a_side_is_nondeterministic():
    candidate = rounds(base())
    candidate[3].metrics["final_train_loss"].value = 1.3
    judgement = judge_rounds(rounds(base()), candidate, ENV, ENV)
    loss = row(judgement, "final_train_loss")
    assert loss.verdict is Verdict.NONDETERMINISTIC and "side B" in loss.comparison.test
    assert judgement.outcome is Outcome.FAILED


def test_a_metric_only_a_has_is_missing_unless_b_says_why():
    candidate = rounds(base())
    for result in candidate:
        del result.metrics["rss_growth_mb"]
    assert row(judge_rounds(rounds(base()), candidate, ENV, ENV),
               "rss_growth_mb").verdict is Verdict.MISSING
    for result in candidate:
        result.unavailable["rss_growth_mb"] = "no RSS here"
    assert row(judge_rounds(rounds(base()), candidate, ENV, ENV),
               "rss_growth_mb").verdict is Verdict.UNAVAILABLE


def test_a_nan_on_either_side_fails():
    candidate = rounds(base())
    candidate[0].metrics["runtime_s"].value = float("nan")
    judgement = judge_rounds(rounds(base()), candidate, ENV, ENV)
    assert row(judgement, "runtime_s").verdict is Verdict.FAILED


def starved(share):
    return {"wall_s": 2.0, "runqueue_s": 2.0 * share}


def test_rounds_starved_alike_are_judged_unevenly_starved_ones_left_out():
    calm, busy = starved(0.0), starved(0.6)
    assert not unevenly_starved(*rounds([1.0, 1.0], machine=[busy, busy]))
    assert unevenly_starved(*rounds([1.0, 1.0], machine=[calm, busy]))
    # every round busy alike: still judged, and still a regression
    judgement = judge_rounds(rounds(base(), machine=busy), rounds(scaled(0.10), machine=busy),
                             ENV, ENV)
    assert row(judgement, "runtime_s").verdict is Verdict.REGRESSED
    assert any("starved both sides alike" in note for note in judgement.notes)


def test_a_candidate_starved_in_every_round_is_not_judged():
    judgement = judge_rounds(rounds(base(), machine=starved(0.0)),
                             rounds(scaled(0.5), machine=starved(0.6)), ENV, ENV)
    runtime = row(judgement, "runtime_s")
    assert runtime.verdict is Verdict.BUSY and not runtime.decided
    assert row(judgement, "final_train_loss").verdict is Verdict.PASS  # quality still judged


def test_short_rounds_are_not_checked_for_starvation():
    # under half a second the kernel's tick accounting says nothing (as measure.machine)
    a, b = rounds([1.0, 1.0], machine=[{"wall_s": 0.01, "runqueue_s": 0.0},
                                       {"wall_s": 0.01, "runqueue_s": 0.009}])
    assert not unevenly_starved(a, b)


def test_rows_serialise_with_the_paired_interval():
    data = row(judge_rounds(rounds(base()), rounds(scaled(0.10)), ENV, ENV),
               "runtime_s").to_dict()
    assert data["verdict"] == "regressed" and data["decided"] is True
    assert data["paired"]["rounds"] == 12
    assert data["paired"]["low"] < data["paired"]["estimate"] < data["paired"]["high"]
    assert data["b_vs_a"].startswith("B vs A: +")


@pytest.mark.parametrize("factor", [0.25, 1.0])
def test_big_slowdowns_regress(factor):
    judgement = judge_rounds(rounds(base()), rounds(scaled(factor)), ENV, ENV)
    assert row(judgement, "runtime_s").verdict is Verdict.REGRESSED


def test_the_views_are_weighed_on_the_paired_estimates(monkeypatch):
    import llmbench.ab.judge as judge

    seen = {}

    def spy(rows, metrics, moved=None):
        seen.update({row.name: moved(row) for row in rows})

    monkeypatch.setattr(judge, "reconcile", spy)
    judgement = judge_rounds(rounds(base()), rounds(scaled(-0.10)), ENV, ENV)
    runtime = row(judgement, "runtime_s")
    assert seen["runtime_s"] == pytest.approx(
        math.log1p(runtime.paired.relative(runtime.paired.centre.estimate)))
    assert seen["runtime_s"] < 0
    assert seen["trainable_params"] is None  # exact: no paired estimate
