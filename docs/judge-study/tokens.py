"""Dump token-level PMIs (forward: reference tokens; reverse: answer tokens) for every answer.

    python docs/judge-study/tokens.py [--model SPEC] [--fewshot]

results/tokens-<model>.json: per item and answer kind, d_fwd[t] = log P(ref_t | q, a, ref_<t)
- log P(ref_t | q, ref_<t) and d_rev[t] = log P(a_t | q, ref, a_<t) - log P(a_t | q, a_<t),
plus the helpfulness PMIs per answer token, and the wall time. aggregate.py turns them into
scores (mean, sum, min, mean + min, ...) without running the model again.
"""
from __future__ import annotations

import argparse
import json
import time

from common import HERE, items
from variants import FEW_SHOT, fwd_ref, h_ans_given_q, rev_ref

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.sources.models import load_model, load_tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--fewshot", action="store_true")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    scorer = TokenLogProbs(load_model(args.model), load_tokenizer(args.model), args.model)
    data = items(args.limit)
    prefix = FEW_SHOT if args.fewshot else ""
    rows, pairs = [], []
    for item in data:
        for kind in ANSWER_KINDS:
            a = item.answer(kind)
            if a is None:
                continue
            q, ref = item.question, item.reference
            f = fwd_ref(q, a, ref)
            r = rev_ref(q, a, ref)
            h = h_ans_given_q(q, a)
            rows.append((item.qid, kind))
            pairs.append([(prefix + f[0], f[2]), (prefix + f[1], f[2]), (prefix + r[0], r[2]),
                          (prefix + r[1], r[2]), (h[0], h[2]), (h[1], h[2])])
    start = time.perf_counter()
    cpu = time.process_time()
    flat = scorer([p for six in pairs for p in six])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    out = []
    for i, (qid, kind) in enumerate(rows):
        fc, f0, rc, r0, hq, h0 = flat[6 * i: 6 * i + 6]
        out.append({"qid": qid, "kind": kind,
                    "d_fwd": [a - b for a, b in zip(fc, f0)], "lp_fwd": fc, "lp_fwd0": f0,
                    "d_rev": [a - b for a, b in zip(rc, r0)], "lp_rev": rc, "lp_rev0": r0,
                    "d_help": [a - b for a, b in zip(hq, h0)]})
    tag = args.model.replace("/", "_").replace(":", "_") + ("-fewshot" if args.fewshot else "")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"tokens-{tag}.json").write_text(json.dumps(
        {"model": args.model, "fewshot": args.fewshot, "wall_s": wall, "cpu_s": cpu,
         "answers": len(rows), "forward_passes": scorer.forward_passes,
         "tokens": scorer.tokens_scored, "rows": out}))
    print(tag, "answers", len(rows), "wall", round(wall, 1), "cpu", round(cpu, 1))


if __name__ == "__main__":
    main()
