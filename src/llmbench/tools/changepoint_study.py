"""Does ``llmbench history changes`` find real shifts in nightly series, and how often does it
cry wolf? Simulated from this suite's own recorded noise.

Noise model (per benchmark × metric, from several recorded ``--bench-repeats`` sessions of the
same profile): a night draws one recorded session at random, which carries that session's
level (the drift between sessions: the machine's state that night), and takes the median of
``repeats`` samples drawn from that session's own samples (the nightly job runs
``--bench-repeats 3``). Metrics: the compared ``noisy`` ones (time, memory, throughput). Seeded
metrics are left out: their recorded spread is across seeds, which a nightly run with a fixed
seed does not see.

A series has ``history`` unchanged nights, then from night ``history`` on every value is worse
by the shift (× (1 + s) for lower-is-better, × (1 − s) for higher-is-better). Detection is
online, as the nightly job sees it: after each new night the whole series so far goes through
``change_points``. A shift counts as detected on the first night a regression-direction change
is reported within ±2 nights of the true one; "within 3 nights" means by the third night of the
shifted level. Any other reported change is false; a false change counts once however many
nights it stays reported (changes within ±2 nights of one already counted are the same one).
False change points are counted on unshifted series over ``history + after`` nights (after a
``warmup`` of nights too short to segment) and on the shifted series up to detection.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmbench.history.changes import ALPHA, MIN_SIZE, PENALTY, change_points, is_regression

SHIFTS = (0.02, 0.05, 0.10, 0.20)
NEAR = 2  # nights: a change reported this close to the true one is the true one


@dataclass
class NoiseSource:
    profile: str
    benchmark_id: str
    metric: str
    direction: str
    sessions: list[np.ndarray]  # each session's samples

    @property
    def label(self) -> str:
        return f"{self.profile}: {self.benchmark_id} {self.metric}"


def noise_sources(documents: list[dict[str, Any]]) -> list[NoiseSource]:
    """Compared noisy metrics with samples in at least two sessions of the same profile."""
    found: dict[tuple[str, str, str], NoiseSource] = {}
    for doc in documents:
        for record in doc.get("benchmarks") or []:
            result = record.get("result") or {}
            for name, metric in (result.get("metrics") or {}).items():
                samples = [float(v) for v in metric.get("samples") or []
                           if isinstance(v, (int, float))]
                if metric.get("determinism") != "noisy" or not metric.get("compare", True) \
                        or len(samples) < 3:
                    continue
                key = (record["profile"], record["benchmark_id"], name)
                source = found.setdefault(key, NoiseSource(*key, metric.get("direction", "lower"),
                                                           []))
                source.sessions.append(np.array(samples))
    return [found[key] for key in sorted(found) if len(found[key].sessions) >= 2]


def night_values(source: NoiseSource, nights: int, repeats: int,
                 rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(len(source.sessions), size=nights)
    return np.array([np.median(rng.choice(source.sessions[s], size=repeats)) for s in picks])


def night_cv(source: NoiseSource, repeats: int, rng: np.random.Generator) -> float:
    values = night_values(source, 2000, repeats, rng)
    return float(np.std(values) / np.mean(values))


@dataclass
class Tally:
    trials: int = 0
    detected_within_3: int = 0
    nights_to_detection: list[int] = field(default_factory=list)
    false_changes: int = 0
    nights: int = 0

    def add(self, other: Tally) -> None:
        self.trials += other.trials
        self.detected_within_3 += other.detected_within_3
        self.nights_to_detection += other.nights_to_detection
        self.false_changes += other.false_changes
        self.nights += other.nights

    @property
    def detection_rate(self) -> float:
        return self.detected_within_3 / self.trials if self.trials else float("nan")

    @property
    def false_per_100(self) -> float:
        return 100 * self.false_changes / self.nights if self.nights else float("nan")


def _online(values: np.ndarray, first: int, last: int, direction: str, shift_at: int | None,
            options: dict[str, Any], tally: Tally) -> int | None:
    """Run the detector after each night in [first, last]; returns the nights to detection."""
    counted: list[int] = []
    for night in range(first, last + 1):
        tally.nights += 1
        detected = False
        for step in change_points(values[:night], **options):
            true = (shift_at is not None and abs(step.index - shift_at) <= NEAR
                    and is_regression(direction, step.after - step.before))
            if true:
                detected = True
            elif all(abs(step.index - c) > NEAR for c in counted):
                counted.append(step.index)
                tally.false_changes += 1
        if detected and shift_at is not None:
            return night - shift_at
    return None


def simulate(source: NoiseSource, shift: float, *, trials: int, history: int, after: int,
             warmup: int, repeats: int, rng: np.random.Generator,
             options: dict[str, Any]) -> Tally:
    tally = Tally(trials=trials)
    for _ in range(trials):
        values = night_values(source, history + after, repeats, rng)
        if shift == 0:
            _online(values, warmup, history + after, source.direction, None, options, tally)
            continue
        worse = 1 + shift if source.direction != "higher" else 1 - shift
        values[history:] *= worse
        nights = _online(values, history + 1, history + after, source.direction, history,
                         options, tally)
        if nights is not None:
            tally.nights_to_detection.append(nights)
            tally.detected_within_3 += nights <= 3
    return tally


def study(documents: list[dict[str, Any]], *, trials: int = 100, history: int = 30,
          after: int = 10, warmup: int = 10, repeats: int = 3, seed: int = 0,
          penalties: tuple[float, ...] = (PENALTY,), min_size: int = MIN_SIZE,
          alpha: float = ALPHA, sweep_trials: int | None = None) -> dict[str, Any]:
    sources = noise_sources(documents)
    if not sources:
        raise ValueError("no compared noisy metric has samples in two sessions of one profile: "
                         "pass --bench-repeats sessions (results.json) of the same profile")
    rng = np.random.default_rng(seed)
    main = penalties[0]
    tallies: dict[tuple[float, float, str], Tally] = {}
    cvs = {s.label: night_cv(s, repeats, rng) for s in sources}
    for penalty in penalties:
        options = {"penalty": penalty, "min_size": min_size, "alpha": alpha}
        shifts = (0.0, *SHIFTS) if penalty == main else (0.0, 0.10)
        n = trials if penalty == main else (sweep_trials or trials)
        for source in sources:
            for shift in shifts:
                tallies[(penalty, shift, source.label)] = simulate(
                    source, shift, trials=n, history=history, after=after, warmup=warmup,
                    repeats=repeats, rng=rng, options=options)
    return {"sources": sources, "cvs": cvs, "tallies": tallies, "main": main,
            "penalties": penalties, "settings": {
                "trials": trials, "sweep_trials": sweep_trials or trials, "history": history,
                "after": after, "warmup": warmup, "repeats": repeats, "seed": seed,
                "min_size": min_size, "alpha": alpha}}


def _pooled(out: dict[str, Any], penalty: float, shift: float,
            labels: list[str] | None = None) -> Tally:
    total = Tally()
    for (p, s, label), tally in out["tallies"].items():
        if p == penalty and s == shift and (labels is None or label in labels):
            total.add(tally)
    return total


def _median(values: list[int]) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def _shift_rows(out: dict[str, Any], penalty: float, labels: list[str] | None) -> list[str]:
    rows = []
    for shift in (0.0, *SHIFTS):
        t = _pooled(out, penalty, shift, labels)
        if shift == 0:
            rows.append(f"| none | {t.trials} | - | - | {t.false_per_100:.2f} |")
        else:
            rows.append(f"| {shift:.0%} | {t.trials} | {t.detection_rate:.1%} | "
                        f"{_median(t.nights_to_detection)} | {t.false_per_100:.2f} |")
    return rows


def to_markdown(out: dict[str, Any]) -> str:
    main, cfg = out["main"], out["settings"]
    quiet = [label for label, cv in out["cvs"].items() if cv <= 0.03]
    lines = [
        f"Settings: penalty {main:g} × log(n), min segment {cfg['min_size']} nights, "
        f"α = {cfg['alpha']:g}; {cfg['history']} nights before the shift, "
        f"{cfg['after']} after; {cfg['repeats']} repeats per night; {cfg['trials']} series per "
        f"metric and shift; seed {cfg['seed']}; {len(out['sources'])} metrics.",
        "",
        "### All metrics",
        "",
        "| shift | series | detected within 3 nights | median nights to detection | "
        "false change points per 100 metric-nights |",
        "|---|---|---|---|---|",
    ]
    lines += _shift_rows(out, main, None)
    lines += ["", f"### Metrics whose night-to-night noise is at most 3 % ({len(quiet)} of "
                  f"{len(out['sources'])})", "",
              "| shift | series | detected within 3 nights | median nights to detection | "
              "false change points per 100 metric-nights |", "|---|---|---|---|---|"]
    lines += _shift_rows(out, main, quiet)
    lines += ["", "### Per metric", "",
              "| metric | night cv | false / 100 nights | detected ≤ 3 nights: 2 % | 5 % | "
              "10 % | 20 % | median nights to detection at 10 % |",
              "|---|---|---|---|---|---|---|---|"]
    for source in out["sources"]:
        label = source.label
        row = [label, f"{out['cvs'][label]:.1%}",
               f"{out['tallies'][(main, 0.0, label)].false_per_100:.2f}"]
        row += [f"{out['tallies'][(main, s, label)].detection_rate:.0%}" for s in SHIFTS]
        row.append(_median(out["tallies"][(main, 0.10, label)].nights_to_detection))
        lines.append("| " + " | ".join(row) + " |")
    if len(out["penalties"]) > 1:
        lines += ["", f"### Penalty sweep ({cfg['sweep_trials']} series per metric for the "
                      f"other penalties)", "",
                  "| penalty × log(n) | 10 % detected within 3 nights, all | same, noise ≤ 3 % | "
                  "false / 100 metric-nights |", "|---|---|---|---|"]
        for penalty in sorted(out["penalties"]):
            t, tq = _pooled(out, penalty, 0.10), _pooled(out, penalty, 0.10, quiet)
            fp = _pooled(out, penalty, 0.0)
            lines.append(f"| {penalty:g} | {t.detection_rate:.1%} | {tq.detection_rate:.1%} | "
                         f"{fp.false_per_100:.2f} |")
    return "\n".join(lines) + "\n"
