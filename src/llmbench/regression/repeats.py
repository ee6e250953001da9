"""Running one benchmark several times: the seed of each repeat, and merging the results.

``--bench-repeats N`` runs a benchmark N times. With the ``same`` seed policy (default) every
repeat uses the profile's seed, so FIXED and SEEDED metrics must come out identical (the
determinism check) while NOISY metrics (time, memory) collect N samples. With ``fresh`` seeds,
repeat i uses seed + i and SEEDED metrics collect their spread across seeds too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import replace
from enum import Enum

from llmbench.regression.results import Determinism, Metric, Result, Scope
from llmbench.regression.stats import near_equal


class SeedPolicy(str, Enum):
    SAME = "same"
    FRESH = "fresh"


def seeds_for(base_seed: int, repeats: int, policy: SeedPolicy) -> list[int]:
    if repeats < 1:
        raise ValueError(f"--bench-repeats must be >= 1, got {repeats}")
    if policy is SeedPolicy.FRESH:
        return [base_seed + i for i in range(repeats)]
    return [base_seed] * repeats


def must_reproduce(metric: Metric, policy: SeedPolicy) -> bool:
    """Should every repeat give the same value for this metric?"""
    return metric.determinism is Determinism.FIXED or (
        metric.determinism is Determinism.SEEDED and policy is SeedPolicy.SAME)


def merge_repeats(results: Sequence[Result], seeds: Sequence[int],
                  policy: SeedPolicy = SeedPolicy.SAME) -> Result:
    """One result whose metrics hold every repeat's value as samples.

    A NOISY metric's value becomes the median of the repeats; a metric that must reproduce keeps
    the first repeat's value, and lands in ``nondeterministic`` when the repeats disagree.
    Params, artifacts and notes come from the first repeat, whose seed is the profile's. A
    single result keeps the samples it measured itself (timed rounds). Repeats measured on a busy
    machine do not contribute cost samples while others do (costs relative to a reference timed
    beside them are kept from repeats at another machine speed, not from contended ones); when
    all were busy, the merged result is busy.
    """
    if not results:
        raise ValueError("no results to merge")
    first = results[0]
    merged = Result(first.suite, first.params, artifacts=first.artifacts,
                    notes=list(first.notes),
                    repeats={"count": len(results), "seeds": list(seeds),
                             "seed_policy": policy.value})
    for later in results:
        merged.unavailable.update(later.unavailable)
        for phase, seconds in later.phases.items():
            merged.phases[phase] = merged.phases.get(phase, 0.0) + seconds
    merged.machine = _merge_machine(results)
    calm = [r for r in results if not r.busy]
    uncontended = [r for r in results if not (r.busy and r.contended)]
    if not calm:
        merged.busy = first.busy
        merged.contended = not uncontended
    elif len(calm) < len(results):
        merged.notes.append(f"{len(results) - len(calm)} of {len(results)} repeats ran on a busy "
                            "machine; their cost values were left out")
    for name, template in first.metrics.items():
        pool = results
        if template.scope is Scope.COST:
            pool = (uncontended if template.machine_relative else calm) or results
        values = [r.metrics[name].value for r in pool if name in r.metrics]
        if len(results) == 1:
            merged.add(name, template)
            continue
        reproduce = must_reproduce(template, policy)
        invalid = [v for v in values if not math.isfinite(v)]
        if invalid:
            value = invalid[0]  # a NaN in any repeat fails the metric
        elif reproduce:
            value = values[0]
            if not all(near_equal(v, value) for v in values):
                merged.nondeterministic[name] = values
        else:
            value = statistics.median(values)
        merged.add(name, replace(template, value=value, samples=values,
                                 items=template.items if reproduce else _mean_items(
                                     [r.metrics[name] for r in pool if name in r.metrics])))
    for later in results[1:]:
        merged.notes.extend(note for note in later.notes if note not in merged.notes)
    return merged


def _mean_items(metrics: Sequence[Metric]) -> dict[str, float] | None:
    """Each item's mean over the repeats that scored it."""
    scored: dict[str, list[float]] = {}
    for metric in metrics:
        for key, value in (metric.items or {}).items():
            scored.setdefault(key, []).append(value)
    return {key: statistics.fmean(values) for key, values in scored.items()} or None


def _merge_machine(results: Sequence[Result]) -> dict:
    merged = dict(results[0].machine)
    # The machine's speed while measuring the samples that are judged (the median of their
    # repeats' probes): busy repeats' timings are left out, so their probes must not widen the
    # drift allowed for the calm ones.
    probed = [r for r in results if "speed_probe_ms" in r.machine]
    judged = [r for r in probed if not r.busy] or probed
    if judged:
        merged["speed_probe_ms"] = statistics.median(r.machine["speed_probe_ms"]
                                                     for r in judged)
    shares = [r.machine.get("cpu_share") for r in results if "cpu_share" in r.machine]
    if not shares:
        return merged
    return {**merged, "cpu_share": shares[0] if len(shares) == 1 else shares,
            "busy_repeats": sum(bool(r.busy) for r in results)}
