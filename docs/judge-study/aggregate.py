"""Score aggregations of the token-level PMIs of tokens.py (+ tokens2.py), without a model.

    python docs/judge-study/aggregate.py results/tokens-smollm2-135m.json \
        [results/tokens2-smollm2-135m.json]

d_fwd / d_rev / d_help: token PMIs (see tokens.py); s: the reference's own forward PMI per
token (tokens2.py: log P(ref_t | q, ref as the answer) - log P(ref_t | q)).
"""
from __future__ import annotations

import json
import math
import sys

from common import figures

from llmbench.judges.labelled import ANSWER_KINDS


def mean(x):
    return sum(x) / len(x)


def wmean(d, w):
    total = sum(w)
    return sum(a * b for a, b in zip(d, w)) / total if total > 0 else 0.0


def surprisal(lp0, power=1.0, floor=0.0):
    return [max(-x - floor, 0) ** power for x in lp0]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


AGG = {
    "fwd mean": lambda r: mean(r["d_fwd"]),
    "fwd sum": lambda r: sum(r["d_fwd"]),
    "fwd min": lambda r: min(r["d_fwd"]),
    "fwd mean+min": lambda r: mean(r["d_fwd"]) + min(r["d_fwd"]),
    "fwd mean+0.5min": lambda r: mean(r["d_fwd"]) + 0.5 * min(r["d_fwd"]),
    "fwd mean+neg": lambda r: mean(r["d_fwd"]) + sum(min(d, 0) for d in r["d_fwd"]),
    "fwd lp(ref|q,a) mean": lambda r: mean(r["lp_fwd"]),
    "fwd info-weighted": lambda r: wmean(r["d_fwd"], surprisal(r["lp_fwd0"])),
    "fwd info^2-weighted": lambda r: wmean(r["d_fwd"], surprisal(r["lp_fwd0"], 2)),
    "rev mean": lambda r: mean(r["d_rev"]),
    "rev min": lambda r: min(r["d_rev"]),
    "rev mean+min": lambda r: mean(r["d_rev"]) + min(r["d_rev"]),
    "rev info-weighted": lambda r: wmean(r["d_rev"], surprisal(r["lp_rev0"])),
    "rev ratio (of answer surprisal)": lambda r: sum(r["d_rev"]) / sum(-x for x in r["lp_rev0"]),
    "fwd+rev mean": lambda r: mean(r["d_fwd"]) + mean(r["d_rev"]),
    "fwd+rev min": lambda r: min(r["d_fwd"]) + min(r["d_rev"]),
    "fwd+rev mean+min": lambda r: (mean(r["d_fwd"]) + min(r["d_fwd"]) + mean(r["d_rev"])
                                   + min(r["d_rev"])),
    "fwd mean + rev min": lambda r: mean(r["d_fwd"]) + min(r["d_rev"]),
    "fwd mean+min + rev min": lambda r: mean(r["d_fwd"]) + min(r["d_fwd"]) + min(r["d_rev"]),
}
SELF = {  # need tokens2.py's self terms
    "fwd mean - self mean": lambda r, s: mean(r["d_fwd"]) - mean(s),
    "fwd ratio sum(d)/sum(s)": lambda r, s: sum(r["d_fwd"]) / max(sum(s), 1.0),
    "fwd ratio + 0.5 rev ratio": lambda r, s: (sum(r["d_fwd"]) / max(sum(s), 1.0) + 0.5
                                               * sum(r["d_rev"]) / sum(-x for x in r["lp_rev0"])),
    "fwd ratio, tokens clipped at s": lambda r, s: (sum(min(a, b) for a, b in zip(r["d_fwd"], s))
                                                    / max(sum(s), 1.0)),
    "projection <d,s>/<s,s>": lambda r, s: dot(r["d_fwd"], s) / dot(s, s),
    "cosine(d,s)": lambda r, s: dot(r["d_fwd"], s) / math.sqrt(dot(r["d_fwd"], r["d_fwd"])
                                                               * dot(s, s) + 1e-9),
    "weighted ratio, w = sqrt(s+)": lambda r, s: (
        sum(math.sqrt(max(x, 0)) * y for x, y in zip(s, r["d_fwd"]))
        / sum(math.sqrt(max(x, 0)) * x for x in s)),
}
HELP = {
    "help mean": lambda r: mean(r["d_help"]),
    "help sum": lambda r: sum(r["d_help"]),
    "help max": lambda r: max(r["d_help"]),
    "help ratio (of a's surprisal alone)": lambda r: sum(r["d_help"]) / sum(
        -(x - d) for x, d in zip(r["lp_rev0"], r["d_help"])),
    "log P(a | q), mean": lambda r: mean(r["lp_rev0"]),
}
HELP2 = {  # need tokens2.py's instruction contrast
    "knows - unsure, mean": lambda r: mean(r["lp_knows"]) - mean(r["lp_unsure"]),
    "help sum + (knows - unsure) sum": lambda r: (sum(r["d_help"]) + sum(r["lp_knows"])
                                                  - sum(r["lp_unsure"])),
}


def table(path, extra=None):
    data = json.load(open(path))
    rows = data["rows"]
    qids = list(dict.fromkeys(r["qid"] for r in rows))
    by = {(r["qid"], r["kind"]): r for r in rows}
    selfd = {}
    if extra:
        more = json.load(open(extra))
        for r in more["rows"]:
            by[(r["qid"], r["kind"])].update(r)
        selfd = {q: [a - b for a, b in zip(more["self"][q], by[(q, "right")]["lp_fwd0"])]
                 for q in qids}

    def scores(fn):
        return {k: [fn(by[(q, k)], q) if (q, k) in by else None for q in qids]
                for k in ANSWER_KINDS}

    print(f"{path}: {data['answers']} answers, wall {data['wall_s']:.1f} s, cpu "
          f"{data['cpu_s']:.1f} s ({data['cpu_s'] / data['answers']:.3f} cpu s/answer for "
          f"fwd+rev+help)")
    for name, fn in AGG.items():
        print(f"  {name:34s}", figures(scores(lambda r, q, fn=fn: fn(r)), None))
    for name, fn in HELP.items():
        print(f"  {name:34s}", figures(None, scores(lambda r, q, fn=fn: fn(r))))
    if extra:
        for name, fn in SELF.items():
            print(f"  {name:34s}", figures(scores(lambda r, q, fn=fn: fn(r, selfd[q])), None))
        for name, fn in HELP2.items():
            print(f"  {name:34s}", figures(None, scores(lambda r, q, fn=fn: fn(r))))


if __name__ == "__main__":
    table(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
