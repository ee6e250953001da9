"""Extra terms for aggregate.py: the reference judged against itself (per question), and
helpfulness contrasts between a knowing and a not-knowing replier (per answer).

    python docs/judge-study/tokens2.py [--model SPEC]
"""
from __future__ import annotations

import argparse
import json
import time

from common import HERE, items

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.sources.models import load_model, load_tokenizer

KNOWS = "Question: {q}\nAn expert who knows the exact answer replies:"
UNSURE = "Question: {q}\nSomeone who does not know the answer replies:"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    scorer = TokenLogProbs(load_model(args.model), load_tokenizer(args.model), args.model)
    data = items()
    selfs = [(f"Question: {i.question}\nAnswer: {i.reference}\nReference answer:",
              " " + i.reference) for i in data]
    rows, pairs = [], []
    for item in data:
        for kind in ANSWER_KINDS:
            a = item.answer(kind)
            if a is not None:
                rows.append((item.qid, kind))
                pairs += [(KNOWS.format(q=item.question), " " + a),
                          (UNSURE.format(q=item.question), " " + a)]
    start, cpu = time.perf_counter(), time.process_time()
    got_self = scorer(selfs)
    got = scorer(pairs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    tag = args.model.replace("/", "_").replace(":", "_")
    (HERE / "results" / f"tokens2-{tag}.json").write_text(json.dumps({
        "model": args.model, "wall_s": wall, "cpu_s": cpu,
        "self": {i.qid: lp for i, lp in zip(data, got_self)},
        "rows": [{"qid": q, "kind": k, "lp_knows": got[2 * n], "lp_unsure": got[2 * n + 1]}
                 for n, (q, k) in enumerate(rows)]}))
    print(tag, "wall", round(wall, 1), "cpu", round(cpu, 1))


if __name__ == "__main__":
    main()
