"""What judging a noisy RAG score question by question gains, on a simulated noisy judge.

    python -m llmbench.tools.paired_study --out docs/rag-study/README-table.md

A configuration answers ``questions`` questions; question i has a true quality q_i (drawn from
Beta(1.2, 1.5): mean 0.44, sd 0.28, some questions easy and some hard, as the judge scores of
the RAG suite are). One run scores each question as a remote judge does: q_i plus Gaussian
noise of sd ``noise``, clipped to [0, 1] and rounded to 0.1 (the steps a grammar-bound or
chatty judge writes). The baseline is one run; the current run is one run of the same
questions after a drop: every q_i lowered by ``drop`` (clipped at 0). Each method then says
whether the score regressed, with the plugin's alpha (``DEFAULT_ALPHA``) and the judge score's
declared tolerance (0.05):

* ``today, one run``: the plugin's rule on the mean, one run a side (no samples, no items);
* ``today, 3 repeats``: the same rule, each side run three times (``--bench-repeats 3``: the
  repeats' means are its samples; three times the cost);
* ``Welch t, one run``: a textbook comparison of the two means, its noise estimated from the
  spread of the per-question scores (unpaired);
* ``paired, one run``: the plugin's rule with each question's score on both sides
  (``regression.paired``), at the plugin's alpha and at ``--bench-alpha 0.01``;
* ``today, one run, tolerance widened until quiet``: today's one-run rule with the smallest
  tolerance that raised no false alarm in the ``trials`` unchanged trials (what a user would
  have to declare, knowing the noise, to keep the run quiet).

Drops are given as the drop of every true score and, in brackets, the mean drop that leaves
after clipping at 0.

For each method: false alarms at drop 0 in ``trials`` trials, and the smallest drop (steps of
0.01) detected in at least 9 of ``trials``; then the same two figures as rates over
``rate_trials`` trials (less luck of the draw). Each trial draws new questions.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llmbench.regression.compare import Context, Reference, compare_metric
from llmbench.regression.paired import t_sf
from llmbench.regression.results import Determinism, Metric, quality
from llmbench.regression.stats import DEFAULT_ALPHA
from llmbench.regression.verdicts import Verdict

JUDGE_TOLERANCE = 0.05  # llmbench.judges.JUDGE_SCORE_ABS_TOL (judges sit above tools' needs)
DROPS = tuple(round(0.01 * i, 2) for i in range(0, 61))
SETTINGS = ((12, 0.05), (12, 0.10), (12, 0.25), (60, 0.05), (60, 0.10), (60, 0.25))


@dataclass(frozen=True)
class Trial:
    """The baseline's runs and the current runs of one question set (question id -> score)."""

    baseline: list[dict[str, float]]
    current: list[dict[str, float]]


def judged(truth: Sequence[float], noise: float, rng: random.Random) -> dict[str, float]:
    """One run: each question's true quality as a noisy judge scores it."""
    return {f"q{i}": round(min(1.0, max(0.0, q + rng.gauss(0.0, noise))), 1)
            for i, q in enumerate(truth)}


def trial(questions: int, noise: float, drop: float, rng: random.Random) -> Trial:
    """Three runs a side (a method uses the first or all of them): every method meets the
    same draws."""
    truth = [rng.betavariate(1.2, 1.5) for _ in range(questions)]
    dropped = [max(0.0, q - drop) for q in truth]
    return Trial([judged(truth, noise, rng) for _ in range(3)],
                 [judged(dropped, noise, rng) for _ in range(3)])


def _score(runs: list[dict[str, float]], items: bool, tolerance: float) -> Metric:
    means = [statistics.fmean(run.values()) for run in runs]
    metric = quality(statistics.median(means), "", "higher", abs_tol=tolerance,
                     determinism=Determinism.NOISY)
    metric.samples = means if len(means) > 1 else None
    metric.items = dict(runs[0]) if items else None
    return metric


def _plugin(runs: int, items: bool, tolerance: float = JUDGE_TOLERANCE,
            alpha: float = DEFAULT_ALPHA) -> Callable[[Trial], bool]:
    def regressed(t: Trial) -> bool:
        current = _score(t.current[:runs], items, tolerance)
        baseline = _score(t.baseline[:runs], items, tolerance)
        ref = Reference(baseline.value, tuple(baseline.samples or ()), items=baseline.items)
        return compare_metric("correctness", current, ref, Context(alpha=alpha)).verdict is \
            Verdict.REGRESSED
    return regressed


def _welch(t: Trial) -> bool:
    a, b = list(t.baseline[0].values()), list(t.current[0].values())
    change = statistics.fmean(b) - statistics.fmean(a)
    if -change <= JUDGE_TOLERANCE:
        return False
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return True
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return t_sf(-change / math.sqrt(va + vb), df) <= DEFAULT_ALPHA


METHODS: dict[str, Callable[[Trial], bool]] = {
    "today, one run": _plugin(1, items=False),
    "today, 3 repeats": _plugin(3, items=False),
    "Welch t, one run": _welch,
    "paired, one run": _plugin(1, items=True),
    "paired, one run, --bench-alpha 0.01": _plugin(1, items=True, alpha=0.01),
}


QUIET = "today, one run, tolerance widened until quiet"


def detections(regressed: Callable[[Trial], bool], questions: int, noise: float, drop: float,
               trials: int, seed: int) -> int:
    rng = random.Random(f"{seed}/{questions}/{noise}/{drop}")  # the same draws for every method
    return sum(regressed(trial(questions, noise, drop, rng)) for _ in range(trials))


def smallest_drop(regressed: Callable[[Trial], bool], questions: int, noise: float,
                  trials: int, need: float, seed: int) -> float | None:
    """The smallest drop of the grid detected in at least ``need`` of ``trials`` trials."""
    for drop in DROPS[1:]:
        if detections(regressed, questions, noise, drop, trials, seed) >= need * trials:
            return drop
    return None


def quiet_tolerance(questions: int, noise: float, trials: int, seed: int) -> float:
    """The smallest tolerance at which today's one-run rule raises no false alarm in
    ``trials`` unchanged trials: what a user would have to declare to keep the run quiet."""
    for tolerance in DROPS[DROPS.index(JUDGE_TOLERANCE):]:
        if not detections(_plugin(1, False, tolerance), questions, noise, 0.0, trials, seed):
            return tolerance
    return DROPS[-1]


def realized_drop(drop: float, draws: int = 20_000) -> float:
    """The mean drop of the true scores when each is lowered by ``drop`` and clipped at 0."""
    rng = random.Random(0)
    return statistics.fmean(min(rng.betavariate(1.2, 1.5), drop) for _ in range(draws))


@dataclass(frozen=True)
class Row:
    questions: int
    noise: float
    method: str
    false_alarms: int  # of trials, at drop 0
    smallest: float | None  # detected in >= 9 of 10 trials
    false_alarm_rate: float
    smallest_at_rate: float | None  # detected in >= 90 % of rate_trials


def study(trials: int = 10, rate_trials: int = 200, seed: int = 0,
          settings: Sequence[tuple[int, float]] = SETTINGS) -> list[Row]:
    rows = []
    for questions, noise in settings:
        tolerance = quiet_tolerance(questions, noise, trials, seed)
        methods = {**METHODS, f"{QUIET} ({tolerance:.2f})": _plugin(1, False, tolerance)}
        for method, regressed in methods.items():
            rows.append(Row(
                questions, noise, method,
                detections(regressed, questions, noise, 0.0, trials, seed),
                smallest_drop(regressed, questions, noise, trials, 0.9, seed),
                detections(regressed, questions, noise, 0.0, rate_trials, seed + 1)
                / rate_trials,
                smallest_drop(regressed, questions, noise, rate_trials, 0.9, seed + 1)))
    return rows


def _drop(value: float | None) -> str:
    if value is None:
        return f"> {DROPS[-1]:.2f}"
    return f"{value:.2f} ({realized_drop(value):.2f})"


def to_markdown(rows: Sequence[Row], trials: int, rate_trials: int) -> str:
    lines = ["| Questions | Judge noise (sd) | Method | False alarms at drop 0 "
             f"(of {trials}) | Smallest drop detected {math.ceil(0.9 * trials)}/{trials} | "
             f"False alarm rate ({rate_trials} trials) | Smallest drop detected in 90 % |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.questions} | {r.noise:.2f} | {r.method} | {r.false_alarms} | "
                     f"{_drop(r.smallest)} | {r.false_alarm_rate:.1%} | "
                     f"{_drop(r.smallest_at_rate)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmbench.tools.paired_study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rate-trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", metavar="FILE", help="also write the table here")
    args = parser.parse_args(argv)
    table = to_markdown(study(args.trials, args.rate_trials, args.seed), args.trials,
                        args.rate_trials)
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
