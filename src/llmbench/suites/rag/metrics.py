"""Answer and retrieval metrics for the RAG benchmarks.

* BLEU: nltk ``corpus_bleu`` (4-gram, uniform weights) with ``SmoothingFunction().method3``,
  NIST geometric smoothing: an n-gram order with no match counts as 1/2^k instead of zero (the
  ``exp`` smoothing that sacreBLEU uses by default).
* METEOR: nltk ``meteor_score`` per answer with real WordNet synonyms (see ``wordnet``), averaged.
  (nltk matches exact words, then Porter stems, then WordNet synonyms of the stems.)
* ROUGE-1/2/L: ``rouge-score`` F1 with the Porter stemmer, averaged over answers.
* Retrieval: recall, reciprocal rank and nDCG (binary relevance) of a ranked list of document ids
  against the labelled ones.
* ``evaluate:<name>``: any metric of Hugging Face ``evaluate`` (needs its hub).

Texts are lower-cased and split into words and punctuation marks for BLEU and METEOR.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed here; the message says why."""


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 in [0, 1], one reference per prediction, NIST geometric smoothing."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    _check_pairs(predictions, references)
    return float(corpus_bleu([[tokenize(r)] for r in references],
                             [tokenize(p) for p in predictions],
                             smoothing_function=SmoothingFunction().method3))


def meteor_scores(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """METEOR of each answer; raises ``WordNetUnavailable`` rather than scoring without
    synonyms."""
    from nltk.translate.meteor_score import meteor_score

    from llmbench.suites.rag.wordnet import load_wordnet

    _check_pairs(predictions, references)
    wordnet = load_wordnet()
    return [float(meteor_score([tokenize(r)], tokenize(p), wordnet=wordnet))
            for p, r in zip(predictions, references)]


def meteor(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean METEOR (see ``meteor_scores``)."""
    return float(np.mean(meteor_scores(predictions, references)))


def rouge_scores(predictions: Sequence[str], references: Sequence[str]
                 ) -> dict[str, list[float]]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 (with stemming) of each answer."""
    from rouge_score import rouge_scorer

    _check_pairs(predictions, references)
    kinds = ("rouge1", "rouge2", "rougeL")
    scorer = rouge_scorer.RougeScorer(list(kinds), use_stemmer=True)
    scores = [scorer.score(r, p) for p, r in zip(predictions, references)]
    return {kind: [float(s[kind].fmeasure) for s in scores] for kind in kinds}


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (with stemming)."""
    return {kind: float(np.mean(values))
            for kind, values in rouge_scores(predictions, references).items()}


# --- retrieval: one ranked list of document ids against the labelled relevant ids -------------

def recall(ranked: Sequence[str], relevant: Sequence[str]) -> float:
    """Share of the relevant documents that appear in the ranked list."""
    wanted = set(relevant)
    if not wanted:
        raise ValueError("recall needs at least one relevant document id")
    return len(wanted & set(ranked)) / len(wanted)


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str]) -> float:
    """1 / rank of the first relevant document; 0 when none is in the list."""
    wanted = set(relevant)
    for position, doc_id in enumerate(ranked, start=1):
        if doc_id in wanted:
            return 1.0 / position
    return 0.0


def ndcg(ranked: Sequence[str], relevant: Sequence[str]) -> float:
    """nDCG of the whole list with binary relevance (the list's length is the cut-off k)."""
    wanted = set(relevant)
    if not wanted:
        raise ValueError("nDCG needs at least one relevant document id")
    gains = [1.0 / math.log2(i + 2) for i, doc_id in enumerate(ranked) if doc_id in wanted]
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(wanted), len(ranked))))
    return sum(gains) / ideal if ideal else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy computes it."""
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=float), q))


# --- Hugging Face evaluate ------------------------------------------------------------------------

EVALUATE_PREFIX = "evaluate:"


def evaluate_metric(spec: str, predictions: Sequence[str], references: Sequence[str]
                    ) -> dict[str, float]:
    """Compute ``evaluate:<name>``; numeric outputs become ``<name>_<key>`` (lists averaged).

    ``evaluate.load`` fetches the metric's script from the Hugging Face hub; without the hub it
    raises ``MetricUnavailable`` with the reason.
    """
    if not spec.startswith(EVALUATE_PREFIX) or not spec[len(EVALUATE_PREFIX):]:
        raise ValueError(f"metric spec {spec!r} must look like 'evaluate:<name>', "
                         "e.g. evaluate:bertscore")
    name = spec[len(EVALUATE_PREFIX):]
    _check_pairs(predictions, references)
    try:
        import evaluate

        module = evaluate.load(name)
    except Exception as exc:  # evaluate raises FileNotFoundError, ConnectionError, OSError...
        raise MetricUnavailable(
            f"{spec}: Hugging Face evaluate could not load {name!r} — the hub is unreachable "
            f"or no such metric exists ({type(exc).__name__}: {exc})") from exc
    scores = module.compute(predictions=list(predictions), references=list(references))
    out: dict[str, float] = {}
    for key, value in (scores or {}).items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[f"{name}_{key}"] = float(value)
        elif (isinstance(value, (list, tuple)) and value
              and all(isinstance(v, (int, float)) for v in value)):
            out[f"{name}_{key}"] = float(np.mean(value))
    if not out:
        raise MetricUnavailable(f"{spec}: returned no numeric scores ({sorted(scores or {})})")
    return out
