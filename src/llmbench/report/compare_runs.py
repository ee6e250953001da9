"""Two results.json side by side: one markdown row per (benchmark, device, metric).

Each metric of B is judged against A with ``regression.compare.compare_metric``: the same rule,
noise model and verdict words as a baseline check (regressed, unconfirmed, within noise, ...).
As in the plugin, absolute timings are ``busy`` (not judged) when the plugin found either run
busy (other work took the CPU) or the two ran at speeds the speed probe tells apart; within that
band the probes' difference widens the allowed drift. Costs relative to a reference timed beside
them are judged at another machine speed, not when other work took the CPU; and a benchmark's
absolute and relative timings must agree before either is "improved" (``regression.views``).
No cost is compared between runs on different hardware keys, or on a CPU with different torch
thread counts (``not compared``).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from llmbench.measure.speed_probe import speed_off
from llmbench.regression.compare import Context, MetricComparison, Reference, compare_metric
from llmbench.regression.environment import other_layout, same_platform, speed_ratio
from llmbench.regression.results import Metric, Scope
from llmbench.regression.verdicts import Verdict
from llmbench.regression.views import reconcile
from llmbench.report.summary import format_number

Key = tuple[str, str, str]  # benchmark_id, profile, device


def _index(results: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    out = {}
    for rec in results.get("benchmarks") or []:
        out[(rec["benchmark_id"], rec["profile"], rec["device"])] = rec
    return out


def _metrics(record: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return ((record or {}).get("result") or {}).get("metrics") or {}


def _value(metric: dict[str, Any] | None) -> float | None:
    if not metric or metric.get("value") is None:
        return None
    return float(metric["value"])  # "nan" / "inf" strings parse too


def judge(metric_a: dict[str, Any] | None, metric_b: dict[str, Any] | None,
          context: Context, busy: str = "", elsewhere: str = "", contended: bool = False) -> str:
    """How B's metric stands against A's, by the same rule the plugin applies to a baseline
    (A plays the baseline: its value, samples and calibrated noise). ``busy``: why absolute
    timings of this pair cannot be judged (see ``busy_reason``); ``elsewhere``: why none of
    its costs can (``cost_elsewhere``). One metric alone: ``judge_benchmark`` also weighs a
    benchmark's views of its speed against each other (``regression.views``)."""
    row = _row("", metric_a, metric_b, context, busy, elsewhere, contended)
    return row if isinstance(row, str) else row.verdict.value


def judge_benchmark(metrics_a: dict[str, dict[str, Any]], metrics_b: dict[str, dict[str, Any]],
                    context: Context, busy: str = "", elsewhere: str = "",
                    contended: bool = False) -> dict[str, str]:
    """Every metric's verdict of one benchmark (B against A), as the plugin decides them."""
    names = sorted(set(metrics_a) | set(metrics_b))
    rows = {name: _row(name, metrics_a.get(name), metrics_b.get(name), context, busy,
                       elsewhere, contended) for name in names}
    judged = [row for row in rows.values() if isinstance(row, MetricComparison)]
    reconcile(judged, {name: Metric.from_dict(metrics_b[name]) for name in names
                       if name in metrics_b and name in metrics_a})
    return {name: row if isinstance(row, str) else row.verdict.value
            for name, row in rows.items()}


def _row(name: str, metric_a: dict[str, Any] | None, metric_b: dict[str, Any] | None,
         context: Context, busy: str, elsewhere: str, contended: bool = False
         ) -> MetricComparison | str:
    if metric_a is None:
        return "only in B"
    if metric_b is None:
        return "only in A"
    a = _value(metric_a)
    reference = Reference(a, tuple(float(s) for s in metric_a.get("samples") or ()),
                          metric_a.get("noise"), metric_a.get("items"))
    if a is None or not math.isfinite(a):
        return "A not finite"
    current = Metric.from_dict(metric_b)
    # in the plugin's order (compare_result): a non-finite value fails, then busy, then no baseline
    if current.compare and current.is_finite and current.scope is Scope.COST:
        if busy and (contended or not current.machine_relative):
            return MetricComparison(name, Verdict.BUSY, current.value, a, reason=busy)
        if elsewhere:
            return Verdict.NOT_COMPARED.value
    return compare_metric(name, current, reference, context)


def _machine(record: dict[str, Any] | None) -> dict[str, Any]:
    return ((record or {}).get("result") or {}).get("machine") or {}


def _probes(rec_a: dict[str, Any] | None, rec_b: dict[str, Any] | None
            ) -> tuple[float | None, float | None]:
    """The speed probes of B and A, when both were taken by the same probe version."""
    machine_a, machine_b = _machine(rec_a), _machine(rec_b)
    if machine_a.get("speed_probe_version") != machine_b.get("speed_probe_version"):
        return None, None
    return machine_b.get("speed_probe_ms"), machine_a.get("speed_probe_ms")


def cost_elsewhere(rec_a: dict[str, Any] | None, rec_b: dict[str, Any] | None) -> str:
    """Why no cost of the two runs can be compared, or "": they ran on different hardware, or
    on a CPU with different torch thread counts (the plugin's rule for a baseline)."""
    env_a = (rec_a or {}).get("environment") or {}
    env_b = (rec_b or {}).get("environment") or {}
    key_a, key_b = env_a.get("hardware_key"), env_b.get("hardware_key")
    if key_a and key_b and key_a != key_b:
        return f"run A ran on {key_a!r}, run B on {key_b!r}"
    return other_layout(env_a, env_b, sides=("run A ran", "run B"))


def busy_reason(rec_a: dict[str, Any] | None, rec_b: dict[str, Any] | None
                ) -> tuple[str, bool]:
    """Why the two runs' absolute timings cannot be compared ("" when they can), and whether
    other work took the CPU (then relative timings are not judged either): the plugin found
    either run busy (``measure.machine.contention``, or its speed probe), or their speed
    probes differ by more than the plugin allows between a run and its baseline."""
    for side, record in (("A", rec_a), ("B", rec_b)):
        result = (record or {}).get("result") or {}
        if result.get("busy"):
            return f"run {side}: {result['busy']}", bool(result.get("contended"))
    probe_b, probe_a = _probes(rec_a, rec_b)
    return speed_off(probe_b, probe_a, "in run A") or "", False


def _context(rec_a: dict[str, Any] | None, rec_b: dict[str, Any] | None) -> Context:
    env_a, env_b = (rec_a or {}).get("environment"), (rec_b or {}).get("environment")
    seeds = [tuple(sorted(set(((r or {}).get("result") or {}).get("repeats", {})
                              .get("seeds", []) or [])))
             for r in (rec_a, rec_b)]
    device = ((rec_b or rec_a or {}).get("device") or "cpu")
    ratio = speed_ratio(*_probes(rec_a, rec_b))
    return Context(same_platform=same_platform(env_a, env_b), same_seeds=seeds[0] == seeds[1],
                   device_class="cuda" if device.startswith("cuda") else "cpu",
                   machine_drift=abs(math.log(ratio)) if ratio else 0.0)


def _change(a: float | None, b: float | None, unit: str) -> str:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return ""
    text = format_number(b - a, unit)
    text = text if text.startswith("-") else "+" + text
    return text + (f" ({(b - a) / abs(a):+.1%})" if a else "")


def _run_line(name: str, label: str, results: dict[str, Any]) -> str:
    prov = results.get("provenance") or {}
    commit = (prov.get("git_commit") or "no commit")[:12]
    dirty = ", uncommitted changes" if prov.get("git_dirty") else ""
    return f"* **{name}**: `{label}` (commit `{commit}`{dirty}, {prov.get('date', 'no date')})"


def compare_runs(a: dict[str, Any], b: dict[str, Any], *, label_a: str = "A",
                 label_b: str = "B", changed_only: bool = False) -> str:
    index_a, index_b = _index(a), _index(b)
    rows = []
    notes: list[str] = []
    tally: Counter[str] = Counter()
    for key in sorted(set(index_a) | set(index_b)):
        metrics_a, metrics_b = _metrics(index_a.get(key)), _metrics(index_b.get(key))
        context = _context(index_a.get(key), index_b.get(key))
        busy, contended = busy_reason(index_a.get(key), index_b.get(key))
        elsewhere = cost_elsewhere(index_a.get(key), index_b.get(key))
        if busy:
            notes.append(f"* `{key[0]}` ({key[1]}, {key[2]}): timings busy, not judged: {busy}")
        if elsewhere:
            notes.append(f"* `{key[0]}` ({key[1]}, {key[2]}): costs not compared: {elsewhere}")
        verdicts = judge_benchmark(metrics_a, metrics_b, context, busy, elsewhere, contended)
        for name, verdict in verdicts.items():
            ma, mb = metrics_a.get(name), metrics_b.get(name)
            va, vb = _value(ma), _value(mb)
            tally[verdict] += 1
            if changed_only and verdict in ("pass", "recorded", "within noise"):
                continue
            unit = (mb or ma or {}).get("unit", "")
            shown_unit = "MiB" if unit == "bytes" else unit
            benchmark, profile, device = key
            rows.append(f"| {benchmark} | {profile} | {device} | {name} | {shown_unit} "
                        f"| {format_number(va, unit)} | {format_number(vb, unit)} "
                        f"| {_change(va, vb, unit)} | {verdict} |")
    out = ["# llmbench compare", "", _run_line("A", label_a, a), _run_line("B", label_b, b), ""]
    if rows:
        out += ["| benchmark | profile | device | metric | unit | A | B | B − A | B vs A |",
                "|---|---|---|---|---|---:|---:|---:|---|", *rows, ""]
    else:
        out += ["No metrics to show.", ""]
    if notes:
        out += ["Costs and timings not judged:", *notes, ""]
    out.append("Metrics: " + ", ".join(f"{n} {v}" for v, n in sorted(tally.items())) + ". "
               "Judged by the rule the plugin applies to baselines (A as the baseline, B's "
               "tolerances; absolute timings of a run on a busy machine, or of runs at different "
               "machine speeds, are busy; costs of runs on other hardware or CPU thread "
               "counts are not compared); sizes in bytes are shown in MiB.")
    return "\n".join(out) + "\n"
