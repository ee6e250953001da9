"""Score aggregations of the token-level PMIs of tokens.py, without running a model.

    python docs/judge-study/aggregate.py results/tokens-smollm2-135m.json
"""
from __future__ import annotations

import json
import sys

from common import figures

from llmbench.judges.labelled import ANSWER_KINDS


def mean(x):
    return sum(x) / len(x)


AGG = {
    "fwd mean": lambda r: mean(r["d_fwd"]),
    "fwd sum": lambda r: sum(r["d_fwd"]),
    "fwd min": lambda r: min(r["d_fwd"]),
    "fwd mean+min": lambda r: mean(r["d_fwd"]) + min(r["d_fwd"]),
    "fwd mean+0.5min": lambda r: mean(r["d_fwd"]) + 0.5 * min(r["d_fwd"]),
    "fwd mean+neg": lambda r: mean(r["d_fwd"]) + sum(min(d, 0) for d in r["d_fwd"]),
    "fwd lp(ref|q,a) mean": lambda r: mean(r["lp_fwd"]),
    "rev mean": lambda r: mean(r["d_rev"]),
    "rev min": lambda r: min(r["d_rev"]),
    "rev mean+min": lambda r: mean(r["d_rev"]) + min(r["d_rev"]),
    "fwd+rev mean": lambda r: mean(r["d_fwd"]) + mean(r["d_rev"]),
    "fwd+rev min": lambda r: min(r["d_fwd"]) + min(r["d_rev"]),
    "fwd+rev mean+min": lambda r: (mean(r["d_fwd"]) + min(r["d_fwd"]) + mean(r["d_rev"])
                                   + min(r["d_rev"])),
    "fwd mean + rev min": lambda r: mean(r["d_fwd"]) + min(r["d_rev"]),
    "fwd mean+min + rev min": lambda r: mean(r["d_fwd"]) + min(r["d_fwd"]) + min(r["d_rev"]),
}
HELP = {
    "help mean": lambda r: mean(r["d_help"]),
    "help sum": lambda r: sum(r["d_help"]),
    "help max": lambda r: max(r["d_help"]),
}


def table(path):
    data = json.load(open(path))
    rows = data["rows"]
    qids = list(dict.fromkeys(r["qid"] for r in rows))
    by = {(r["qid"], r["kind"]): r for r in rows}

    def scores(fn):
        return {k: [fn(by[(q, k)]) if (q, k) in by else None for q in qids]
                for k in ANSWER_KINDS}

    print(f"{path}: {data['answers']} answers, wall {data['wall_s']:.1f} s, cpu "
          f"{data['cpu_s']:.1f} s ({data['cpu_s'] / data['answers']:.3f} cpu s/answer for "
          f"fwd+rev+help)")
    for name, fn in AGG.items():
        print(f"  {name:28s}", figures(scores(fn), None))
    for name, fn in HELP.items():
        print(f"  {name:28s}", figures(None, scores(fn)))


if __name__ == "__main__":
    for p in sys.argv[1:]:
        table(p)
