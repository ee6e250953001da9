"""The verdict on one benchmark, as a pure function: ``decide(result, baseline, env, policy)``.

No pytest, no I/O: the plugin calls it once per benchmark and records / fails on what it
returns; unit tests call it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from llmbench.regression import environment as env_info
from llmbench.regression.baselines import Baseline, config_hash
from llmbench.regression.compare import Context, MetricComparison, compare_result
from llmbench.regression.results import Result, Scope
from llmbench.regression.stats import DEFAULT_ALPHA
from llmbench.regression.verdicts import Outcome, Verdict, outcome_of


@dataclass(frozen=True)
class Policy:
    compare_cost: bool = True  # False under --no-cost-compare
    alpha: float = DEFAULT_ALPHA


@dataclass
class Decision:
    outcome: Outcome
    rows: list[MetricComparison] = field(default_factory=list)
    # One line on why, for the outcomes that are not about single metrics: no baseline, params
    # changed, nothing compared, cost from other hardware only.
    reason: str = ""
    changed_params: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def moved(self) -> list[MetricComparison]:
        """Rows worth showing a human: anything that is not a plain pass."""
        quiet = (Verdict.PASS, Verdict.RECORDED)
        return [row for row in self.rows if row.verdict not in quiet]


def changed_params(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {key: (old.get(key), new.get(key)) for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)}


def describe_changes(changes: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{key}: {old!r} -> {new!r}" for key, (old, new) in changes.items())


def decide(result: Result, baseline: Baseline | None, env: dict[str, Any],
           policy: Policy = Policy()) -> Decision:
    """How ``result`` (measured where ``env`` describes) stands against ``baseline``."""
    if baseline is None:
        return Decision(Outcome.NEW, reason="no baseline file")
    digest = config_hash(result.suite, result.params)
    if baseline.data["config_hash"] != digest:
        changes = changed_params(baseline.data.get("params") or {}, result.params)
        if baseline.data.get("suite", result.suite) != result.suite:
            changes["suite"] = (baseline.data.get("suite"), result.suite)
        if changes:
            reason = f"the benchmark's params changed ({describe_changes(changes)})"
        else:
            reason = (f"the baseline's config_hash {baseline.data['config_hash']} does not match "
                      f"its own params (hash {digest}): the file was edited by hand or written "
                      "by another llmbench version")
        return Decision(Outcome.NOT_COMPARABLE, reason=reason, changed_params=changes)

    device_class = env["device_class"]
    quality_entry = baseline.entry("quality", device_class)
    has_quality = any(m.scope is Scope.QUALITY and m.compare for m in result.metrics.values())
    if has_quality and quality_entry is None:
        return Decision(Outcome.NEW, reason=f"the baseline has no entry for device class "
                                            f"{device_class!r}")
    context = Context(
        same_platform=env_info.same_platform((quality_entry or {}).get("environment"), env),
        same_seeds=_seed_set((quality_entry or {}).get("repeats")) == _seed_set(result.repeats),
        alpha=policy.alpha, device_class=device_class,
        machine_drift=machine_drift(result, baseline, env["hardware_key"]),
        cpu_signature=env.get("cpu_signature"))
    cost_refs, cost_skipped = None, ""
    if not policy.compare_cost:
        cost_skipped = "cost compare is off (--no-cost-compare)"
    else:
        cost_refs = baseline.references("cost", env["hardware_key"])
        if cost_refs is None:
            keys = sorted(baseline.data.get("cost", {}))
            cost_skipped = (f"no cost baseline for hardware {env['hardware_key']!r} (baseline "
                            f"has: {', '.join(keys) or 'none'})")
        else:
            recorded = (baseline.entry("cost", env["hardware_key"]) or {}).get("environment")
            cost_skipped = env_info.other_layout(recorded, env)
            if cost_skipped:
                cost_refs = None
    rows = compare_result(result, baseline.references("quality", device_class), cost_refs,
                          context, cost_skipped=cost_skipped)
    outcome = outcome_of([row.verdict for row in rows])
    reason = ""
    if outcome is Outcome.NOT_COMPARED:
        reason = f"nothing was compared: {cost_skipped or 'no metric to compare'}"
    elif cost_skipped and any(r.verdict is Verdict.NOT_COMPARED for r in rows):
        reason = f"cost metrics not compared: {cost_skipped}"
    elif outcome is Outcome.BUSY:
        reason = f"cost metrics not judged: {result.busy}"
    return Decision(outcome, rows, reason)


def machine_drift(result: Result, baseline: Baseline, hardware_key: str) -> float:
    """How far this run's machine speed was from the baseline's (0.1 = 10 %), by the speed
    probe; 0 when either side has no probe."""
    ratio = env_info.speed_ratio(result.machine.get("speed_probe_ms"), baseline.speed_probe_ms(
        hardware_key, result.machine.get("speed_probe_version")))
    return abs(math.log(ratio)) if ratio else 0.0


def _seed_set(repeats: dict[str, Any] | None) -> frozenset | None:
    """The seeds a side ran with; None for runs with the profile's seed only."""
    seeds = (repeats or {}).get("seeds")
    return frozenset(seeds) if seeds and len(set(seeds)) > 1 else None
