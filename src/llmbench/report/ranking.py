"""Rank RAG configurations by the mean of their normalized scores.

Each metric is min-max normalized across the configurations being compared (the best
configuration gets 1, the worst 0; for lower-is-better metrics such as latency the scale is
flipped), and a configuration's rank score is the mean of its normalized values. A metric that
is equal for every configuration does not separate them and is left out; a configuration that
lacks a metric (or has NaN for it) is averaged over the metrics it has.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The quality columns of the RAG table; judge scores are only there when a judge ran.
DEFAULT_RANKING_METRICS = ("bleu", "correctness", "helpfulness", "meteor", "rougeL")


@dataclass
class Ranked:
    rank: int
    name: str
    score: float  # mean of the normalized values; NaN when none was available
    normalized: dict[str, float] = field(default_factory=dict)


def _usable(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def rank_configurations(rows: Mapping[str, Mapping[str, float]],
                        metrics: Sequence[str] = DEFAULT_RANKING_METRICS,
                        lower_is_better: Iterable[str] = ()) -> list[Ranked]:
    """Rank ``rows`` (configuration name -> metric name -> value), best first.

    Ties keep the configurations' names in alphabetical order and share no rank numbers
    (ranks are 1, 2, 3, ... in the returned order).
    """
    lower = set(lower_is_better)
    normalized: dict[str, dict[str, float]] = {name: {} for name in rows}
    for metric in metrics:
        values = {name: row[metric] for name, row in rows.items()
                  if metric in row and _usable(row[metric])}
        if not values:
            continue
        low, high = min(values.values()), max(values.values())
        if high == low:
            continue
        for name, value in values.items():
            scaled = (value - low) / (high - low)
            normalized[name][metric] = 1.0 - scaled if metric in lower else scaled
    scored = [(sum(n.values()) / len(n) if n else math.nan, name, n)
              for name, n in normalized.items()]
    scored.sort(key=lambda item: (math.isnan(item[0]), -item[0] if not math.isnan(item[0])
                                  else 0.0, item[1]))
    return [Ranked(i, name, score, n) for i, (score, name, n) in enumerate(scored, start=1)]


def rank_rag_results(results: Iterable[Mapping[str, Any]],
                     metrics: Sequence[str] = DEFAULT_RANKING_METRICS) -> list[Ranked]:
    """Rank ``Result.to_dict()`` dicts of the rag suite (as in results.json) by their
    configuration label (``artifacts["config"]["label"]``, e.g. "smollm2-135m + dense")."""
    rows = {result["artifacts"]["config"]["label"]:
            {name: metric["value"] for name, metric in result["metrics"].items()}
            for result in results}
    return rank_configurations(rows, metrics)
