"""How often each comparison rule catches an injected regression, and how often it cries wolf.

Input: two ``results.json`` files from separate runs of the same benchmarks with
``--bench-repeats N`` (the baseline session and the "current" session). Their samples are this
machine's real noise, including whatever drifts between two sessions. Each trial draws a
baseline and a current sample set (without replacement), makes the current one worse by a known
fraction, and asks each rule for a verdict through the same ``compare_metric`` that the plugin
uses. An effect of 0 counts false alarms.

    llmbench noise-study session-a/results.json session-b/results.json --metric runtime_s \
        [--calibration-run session-c/results.json]

Without ``--calibration-run`` the new rule's tolerance knows only the noise within the baseline
session; with it, also the drift between sessions (what two ``--calibrate`` runs give).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from llmbench.regression.compare import Context, Reference, compare_metric
from llmbench.regression.results import Direction, Metric
from llmbench.regression.stats import DEFAULT_ALPHA, calibrated_noise, spread
from llmbench.regression.verdicts import Verdict

EFFECTS = (0.0, 0.02, 0.05, 0.10, 0.20)


@dataclass(frozen=True)
class Rule:
    name: str
    baseline_n: int
    current_n: int  # samples per measurement
    confirm: bool  # --bench-confirm 1: a regression or unconfirmed result is measured again
    judge: Callable[[Metric, list[float], list[float]], Verdict]


def _single_value_rule(name: str, rel_tol: float | None) -> Rule:
    """Before issue 8: one run against one baseline value, the tolerance deciding alone."""

    def judge(template: Metric, base: list[float], current: list[float]) -> Verdict:
        metric = replace(template, value=current[0], samples=None, kind=None)
        if rel_tol is not None:
            metric = replace(metric, rel_tol=rel_tol, abs_tol=0.0)
        return compare_metric("m", metric, base[0]).verdict

    return Rule(name, 1, 1, False, judge)


def _plugin_rule(name: str, baseline_n: int, current_n: int, alpha: float,
                 calibration: Mapping[str, Any] | None, confirm: bool = False) -> Rule:
    """The plugin's rule: the baseline keeps its samples and calibrated noise (this session's
    spread, plus the medians of earlier calibration sessions), and the shift test decides."""

    def judge(template: Metric, base: list[float], current: list[float]) -> Verdict:
        reference = Reference(spread(base).median, tuple(base),
                              calibrated_noise(base, calibration))
        metric = replace(template, value=spread(current).median, samples=current)
        return compare_metric("m", metric, reference, Context(alpha=alpha)).verdict

    return Rule(name, baseline_n, current_n, confirm, judge)


def default_rules(repeats: int = 5, alpha: float = DEFAULT_ALPHA,
                  calibration: Mapping[str, Any] | None = None) -> list[Rule]:
    sessions = 1 + len((calibration or {}).get("session_medians", []))
    calibrated = f"baseline {repeats} runs x {sessions} calibration session(s)"
    return [
        _single_value_rule("before: fixed 5%, 1 run", 0.05),
        _plugin_rule(f"now: 1 run, {calibrated}", repeats, 1, alpha, calibration),
        _plugin_rule(f"now: 1 run + --bench-confirm 1, {calibrated}", repeats, 1, alpha,
                     calibration, confirm=True),
        _plugin_rule(f"now: {repeats} runs, {calibrated}", repeats, repeats, alpha, calibration),
    ]


def worsen(value: float, effect: float, direction: Direction) -> float:
    """``effect`` worse: higher for lower-is-better metrics, lower for higher-is-better."""
    return value / (1 + effect) if direction is Direction.HIGHER else value * (1 + effect)


def detection_rates(template: Metric, baseline_pool: Sequence[float],
                    current_pool: Sequence[float], rule: Rule,
                    effects: Iterable[float] = EFFECTS, trials: int = 1000, seed: int = 0
                    ) -> dict[float, float]:
    """Share of trials in which ``rule`` reports a regression, per injected effect."""
    if len(baseline_pool) < rule.baseline_n or len(current_pool) < rule.current_n:
        raise ValueError(f"rule {rule.name!r} needs {rule.baseline_n} baseline and "
                         f"{rule.current_n} current samples; the pools have "
                         f"{len(baseline_pool)} and {len(current_pool)}")
    rng = random.Random(seed)

    def measurement(effect: float) -> list[float]:
        return [worsen(v, effect, template.direction)
                for v in rng.sample(list(current_pool), rule.current_n)]

    rates = {}
    for effect in effects:
        hits = 0
        for _ in range(trials):
            base = rng.sample(list(baseline_pool), rule.baseline_n)
            current = measurement(effect)
            verdict = rule.judge(template, base, current)
            if rule.confirm and verdict in (Verdict.REGRESSED, Verdict.UNCONFIRMED):
                verdict = rule.judge(template, base, current + measurement(effect))
            hits += verdict is Verdict.REGRESSED
        rates[effect] = hits / trials
    return rates


def samples_by_metric(results: Mapping[str, Any], metric: str) -> dict[str, tuple[Metric, list]]:
    """benchmark id -> (metric as declared, its samples) from one results.json."""
    found = {}
    for record in results.get("benchmarks", []):
        data = ((record.get("result") or {}).get("metrics") or {}).get(metric)
        if data and data.get("samples"):
            found[record["benchmark_id"]] = (Metric.from_dict(data), list(data["samples"]))
    return found


def study(baseline_run: Mapping[str, Any], current_run: Mapping[str, Any],
          metrics: Sequence[str], calibration_runs: Sequence[Mapping[str, Any]] = (),
          trials: int = 1000, repeats: int = 5, alpha: float = DEFAULT_ALPHA
          ) -> list[dict[str, Any]]:
    """``calibration_runs``: further sessions, as a second ``--calibrate`` would have seen them;
    their medians add the between-session drift to the calibrated tolerance."""
    rows = []
    for metric in metrics:
        base_samples = samples_by_metric(baseline_run, metric)
        current_samples = samples_by_metric(current_run, metric)
        extra = [samples_by_metric(run, metric) for run in calibration_runs]
        for benchmark_id in sorted(set(base_samples) & set(current_samples)):
            template, base = base_samples[benchmark_id]
            _, current = current_samples[benchmark_id]
            sessions = [spread(found[benchmark_id][1]) for found in extra
                        if benchmark_id in found]
            calibration = ({"session_medians": [s.median for s in sessions],
                            "session_samples": [s.n for s in sessions],
                            "within_cvs": [s.cv for s in sessions]} if sessions else None)
            shift = spread(current).median / spread(base).median - 1
            for rule in default_rules(repeats, alpha, calibration):
                rates = detection_rates(template, base, current, rule, trials=trials)
                rows.append({"benchmark": benchmark_id, "metric": metric, "rule": rule.name,
                             "cv": spread(base).cv, "session_shift": shift, "n": len(base),
                             "rates": rates, "declared_rel_tol": template.rel_tol})
    if not rows:
        raise ValueError(f"no metric among {list(metrics)} has samples in both runs: run the "
                         "benchmarks with --bench-repeats N (N >= 10) in two sessions")
    return rows


def to_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    effects = list(rows[0]["rates"])
    head = ["benchmark", "metric", "cv", "B vs A", "rule", "false alarms",
            *[f"detects {e:.0%}" for e in effects if e]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        rates = row["rates"]
        cells = [row["benchmark"], row["metric"], f"{row['cv']:.2%}",
                 f"{row['session_shift']:+.1%}", row["rule"],
                 f"{rates[0.0]:.1%}", *[f"{rates[e]:.0%}" for e in effects if e]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summarize(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per rule: false alarms and detections averaged over the benchmark x metric rows."""
    rules = list(dict.fromkeys(row["rule"] for row in rows))
    effects = list(rows[0]["rates"])
    head = ["rule", "rows", "mean false alarms", "worst false alarms",
            *[f"detects {e:.0%}" for e in effects if e]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rule in rules:
        mine = [row["rates"] for row in rows if row["rule"] == rule]
        mean = {e: sum(r[e] for r in mine) / len(mine) for e in effects}
        cells = [rule, str(len(mine)), f"{mean[0.0]:.1%}", f"{max(r[0.0] for r in mine):.1%}",
                 *[f"{mean[e]:.0%}" for e in effects if e]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
