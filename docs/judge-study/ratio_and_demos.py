"""Correctness as a PMI ratio (the answer's PMI with the reference over the reference's own),
with and without a two-shot prefix; helpfulness as an in-context contrast between helpful and
evasive demonstrations, plus the PMI of the answer given the question. All 60 questions.

    python docs/judge-study/ratio_and_demos.py [--model SPEC]
"""
from __future__ import annotations

import argparse
import json
import time

from common import HERE, figures, items
from help_demos import EVASIVE, HELPFUL
from variants import FEW_SHOT

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.sources.models import load_model, load_tokenizer

WITH = "Question: {q}\nAnswer: {a}\nReference answer:"
ALONE = "Question: {q}\nReference answer:"


def mean(x):
    return sum(x) / len(x)


def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    scorer = TokenLogProbs(load_model(args.model), load_tokenizer(args.model), args.model)
    data = items(args.limit)
    slots = [(i, k) for i in data for k in ANSWER_KINDS if k in i.answers]
    report = {"model": args.model, "answers": len(slots)}
    results = {}
    for tag, prefix in (("plain", ""), ("fewshot", FEW_SHOT)):
        cand = [(WITH.format(q=i.question, a=i.answers[k]), " " + i.reference) for i, k in slots]
        alone = [(ALONE.format(q=i.question), " " + i.reference) for i in data]
        selfs = [(WITH.format(q=i.question, a=i.reference), " " + i.reference) for i in data]
        (got, wall, cpu) = timed(lambda: (scorer(cand, prefix=prefix),  # noqa: B023
                                          scorer(alone + selfs, prefix=prefix)))  # noqa: B023
        lc, rest = got
        la = dict(zip([i.qid for i in data], rest[:len(data)]))
        ls = dict(zip([i.qid for i in data], rest[len(data):]))
        ratio = {}
        for (i, k), lp in zip(slots, lc):
            d = sum(lp) - sum(la[i.qid])
            ratio[(i.qid, k)] = d / max(sum(ls[i.qid]) - sum(la[i.qid]), 1.0)
        results[f"fwd_ratio_{tag}"] = ratio
        report[f"fwd_ratio_{tag}_cpu_s_per_answer"] = cpu / len(slots)
        report[f"fwd_ratio_{tag}_wall_s_per_answer"] = wall / len(slots)
    pairs_h = [(f"Question: {i.question}\nAnswer:", " " + i.answers[k]) for i, k in slots]
    pairs_a = [("Answer:", " " + i.answers[k]) for i, k in slots]
    (got, wall, cpu) = timed(lambda: (scorer(pairs_h, prefix=HELPFUL),
                                      scorer(pairs_h, prefix=EVASIVE),
                                      scorer(pairs_h), scorer(pairs_a)))
    report["help_cpu_s_per_answer"] = cpu / len(slots)
    report["help_wall_s_per_answer"] = wall / len(slots)
    lh, le, lq, la = got
    contrast = {(i.qid, k): mean(h) - mean(e) for (i, k), h, e in zip(slots, lh, le)}
    pmi = {(i.qid, k): mean(q) - mean(a) for (i, k), q, a in zip(slots, lq, la)}
    results["help_contrast"] = contrast
    results["help_pmi"] = pmi
    for w in (0.5, 1.0, 2.0):
        results[f"help_contrast+{w}pmi"] = {s: contrast[s] + w * pmi[s] for s in contrast}
    qids = [i.qid for i in data]

    def as_kinds(values):
        return {k: [values.get((q, k)) for q in qids] for k in ANSWER_KINDS}

    for name, values in results.items():
        fig = figures(as_kinds(values), None) if name.startswith("fwd") else \
            figures(None, as_kinds(values))
        report[name] = fig
        print(f"{name:28s}", fig)
    print({k: round(v, 3) for k, v in report.items() if isinstance(v, float)})
    tag = args.model.replace("/", "_").replace(":", "_")
    (HERE / "results" / f"ratio-demos-{tag}.json").write_text(json.dumps(
        {**report, "scores": {n: {f"{q}/{k}": v for (q, k), v in vals.items()}
                              for n, vals in results.items()}}, indent=1))


if __name__ == "__main__":
    main()
