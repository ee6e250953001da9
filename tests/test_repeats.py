import math

import pytest

from llmbench.regression.repeats import SeedPolicy, merge_repeats, seeds_for
from llmbench.regression.results import Determinism, Result, cost, quality


def result(runtime, loss=1.0, params=100.0):
    return Result("lora", {"rank": 8, "seed": 0}, {
        "runtime_s": cost(runtime, "s"),
        "loss": quality(loss, determinism=Determinism.SEEDED),
        "params": quality(params, direction="exact"),
    }, notes=[f"ran in {runtime}"])


def test_seeds_same_and_fresh():
    assert seeds_for(3, 3, SeedPolicy.SAME) == [3, 3, 3]
    assert seeds_for(3, 3, SeedPolicy.FRESH) == [3, 4, 5]
    with pytest.raises(ValueError, match="--bench-repeats"):
        seeds_for(0, 0, SeedPolicy.SAME)


def test_merge_takes_median_of_noisy_and_keeps_all_samples():
    merged = merge_repeats([result(3.0), result(1.0), result(2.0)], [0, 0, 0])
    runtime = merged.metrics["runtime_s"]
    assert runtime.value == 2.0 and runtime.samples == [3.0, 1.0, 2.0]
    assert merged.nondeterministic == {}
    assert merged.repeats == {"count": 3, "seeds": [0, 0, 0], "seed_policy": "same"}
    assert merged.notes == ["ran in 3.0", "ran in 1.0", "ran in 2.0"]


def test_seeded_metric_must_reproduce_with_the_same_seed_only():
    runs = [result(1.0, loss=1.0), result(1.0, loss=1.2)]
    assert set(merge_repeats(runs, [0, 0]).nondeterministic) == {"loss"}
    fresh = merge_repeats(runs, [0, 1], SeedPolicy.FRESH)
    assert fresh.nondeterministic == {} and fresh.metrics["loss"].value == 1.1


def test_fixed_metric_must_reproduce_even_with_fresh_seeds():
    runs = [result(1.0, params=100), result(1.0, params=101)]
    merged = merge_repeats(runs, [0, 1], SeedPolicy.FRESH)
    assert merged.nondeterministic == {"params": [100.0, 101.0]}


def test_last_bit_differences_are_not_nondeterminism():
    runs = [result(1.0, loss=6.038496971130371), result(1.0, loss=6.038496017456055)]
    assert merge_repeats(runs, [0, 0]).nondeterministic == {}


def test_nan_in_any_repeat_makes_the_value_nan():
    merged = merge_repeats([result(1.0), result(1.0, loss=math.nan)], [0, 0])
    assert math.isnan(merged.metrics["loss"].value)


def test_single_result_keeps_its_own_round_samples():
    one = result(1.0)
    one.metrics["runtime_s"].samples = [0.9, 1.0, 1.1]
    merged = merge_repeats([one], [0])
    assert merged.metrics["runtime_s"].samples == [0.9, 1.0, 1.1]


def test_busy_repeats_do_not_contribute_cost_samples():
    calm, starved = result(1.0), result(5.0)
    starved.busy = "machine busy"
    merged = merge_repeats([calm, starved, result(1.2)], [0, 0, 0])
    assert merged.metrics["runtime_s"].samples == [1.0, 1.2]
    assert merged.busy is None and any("busy machine" in note for note in merged.notes)
    everything_starved = merge_repeats([starved, starved], [0, 0])
    assert everything_starved.busy == "machine busy"


def test_busy_repeats_keep_their_samples_of_costs_relative_to_a_reference():
    calm, starved = result(1.0), result(5.0)
    for repeat, ratio in ((calm, 5.1), (starved, 5.0)):
        repeat.add("step_cost", cost(ratio, "x reference", kind="relative_time"))
    starved.busy = "machine busy"
    merged = merge_repeats([calm, starved], [0, 0])
    assert merged.metrics["runtime_s"].samples == [1.0]
    assert merged.metrics["step_cost"].samples == [5.1, 5.0]


def test_machine_speed_is_the_median_probe_of_the_judged_repeats():
    calm, slow_machine, calm_too, hiccup = result(1.0), result(2.6), result(1.1), result(1.0)
    for repeat, probe in ((calm, 4.2), (slow_machine, 11.0), (calm_too, 4.5), (hiccup, 6.3)):
        repeat.machine = {"speed_probe_ms": probe}
    slow_machine.busy = "machine 2.60x slower"
    # the busy repeat's probe is left out; one slow reading among calm ones does not set it
    merged = merge_repeats([calm, slow_machine, calm_too, hiccup, calm], [0] * 5)
    assert merged.machine["speed_probe_ms"] == 4.35
    all_busy = merge_repeats([slow_machine, slow_machine], [0, 0])
    assert all_busy.machine["speed_probe_ms"] == 11.0


def test_unavailable_and_phases_are_merged():
    a, b = result(1.0), result(1.0)
    a.unavailable = {"meteor": "no WordNet"}
    a.phases, b.phases = {"train": 1.0}, {"train": 2.0, "eval": 0.5}
    merged = merge_repeats([a, b], [0, 0])
    assert merged.unavailable == {"meteor": "no WordNet"}
    assert merged.phases == {"train": 3.0, "eval": 0.5}
