"""Helpfulness by in-context contrast: log P(a | helpful demos, q) - log P(a | evasive demos, q).

    python docs/judge-study/help_demos.py [--model SPEC] [--limit N]

The demonstrations are about a made-up library (nothing from the Nordwick corpus). Also
writes the PMI of the answer given the question (d_help) for combinations.
"""
from __future__ import annotations

import argparse
import json
import time

from common import HERE, figures, items

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.sources.models import load_model, load_tokenizer

HELPFUL = ("Question: When does the library open on Sundays?\nAnswer: It opens at noon on Sundays.\n\n"
           "Question: How many books can I borrow at once?\nAnswer: You can borrow up to 12 books.\n\n"
           "Question: Who runs the reading club?\nAnswer: Maria Lenz runs the reading club.\n\n"
           "Question: How much is the late fee?\nAnswer: The late fee is 50 cents per day.\n\n")
EVASIVE = ("Question: When does the library open on Sundays?\nAnswer: I'm not sure; please check the website.\n\n"
           "Question: How many books can I borrow at once?\nAnswer: That depends, ask at the front desk.\n\n"
           "Question: Who runs the reading club?\nAnswer: I don't know who is in charge of that.\n\n"
           "Question: How much is the late fee?\nAnswer: Fees change sometimes, so I can't say.\n\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    scorer = TokenLogProbs(load_model(args.model), load_tokenizer(args.model), args.model)
    data = items(args.limit)
    rows, pairs = [], []
    for item in data:
        for kind in ANSWER_KINDS:
            a = item.answer(kind)
            if a is None:
                continue
            q = f"Question: {item.question}\nAnswer:"
            rows.append((item.qid, kind))
            pairs += [(HELPFUL + q, " " + a), (EVASIVE + q, " " + a), (q, " " + a),
                      ("Answer:", " " + a)]
    start, cpu = time.perf_counter(), time.process_time()
    got = scorer(pairs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    m = lambda x: sum(x) / len(x)  # noqa: E731
    out = []
    for n, (qid, kind) in enumerate(rows):
        h, e, q, alone = got[4 * n: 4 * n + 4]
        out.append({"qid": qid, "kind": kind, "lp_h": h, "lp_e": e, "lp_q": q, "lp_alone": alone})
    tag = args.model.replace("/", "_").replace(":", "_")
    (HERE / "results" / f"help-demos-{tag}.json").write_text(json.dumps(
        {"model": args.model, "wall_s": wall, "cpu_s": cpu, "answers": len(rows), "rows": out}))
    by = {(r["qid"], r["kind"]): r for r in out}
    qids = [i.qid for i in data]

    def sc(fn):
        return {k: [fn(by[(q, k)]) if (q, k) in by else None for q in qids] for k in ANSWER_KINDS}

    for name, fn in {
        "demos contrast mean": lambda r: m(r["lp_h"]) - m(r["lp_e"]),
        "demos contrast sum": lambda r: sum(r["lp_h"]) - sum(r["lp_e"]),
        "pmi(a;q) mean": lambda r: m(r["lp_q"]) - m(r["lp_alone"]),
        "contrast + pmi mean": lambda r: m(r["lp_h"]) - m(r["lp_e"]) + m(r["lp_q"]) - m(r["lp_alone"]),
        "pmi(a; helpful demos+q)": lambda r: m(r["lp_h"]) - m(r["lp_alone"]),
    }.items():
        print(f"{name:30s}", figures(None, sc(fn)))
    print(tag, "answers", len(rows), "wall", round(wall, 1), "cpu", round(cpu, 1))


if __name__ == "__main__":
    main()
