"""Fit the offline judge's logistic calibration on the shipped labelled set.

    python docs/judge-study/calibrate.py [--judge smollm2-135m]

Computes the judge's raw scores (its recipe, uncalibrated) for every labelled answer, then
fits score = logistic((raw - center) / scale) with balanced classes: correctness separates
right answers from near-miss, off-topic and evasive ones; helpfulness separates answers
(right, partial, near-miss) from off-topic and evasive ones. Prints the constants for
llmbench/judges/offline.py and writes results/calibration-<judge>.json.
"""
from __future__ import annotations

import argparse
import json
import time

from common import HERE, figures, items
from sklearn.linear_model import LogisticRegression

from llmbench.judges import cached_judge
from llmbench.judges.labelled import ANSWER_KINDS, ANSWERING


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", default="smollm2-135m")
    ap.add_argument("--keys", nargs="*", default=["correctness", "helpfulness"])
    args = ap.parse_args()
    judge = cached_judge(args.judge)
    data = items()
    slots = [(i, k) for i in data for k in ANSWER_KINDS if k in i.answers]
    triples = [(i.question, i.answers[k], i.reference) for i, k in slots]
    out = {"judge": args.judge}
    for key, positive, raw_fn in (("correctness", ("right",), judge.correctness_raw),
                                  ("helpfulness", ANSWERING, judge.helpfulness_raw)):
        if key not in args.keys:
            continue
        start, cpu = time.perf_counter(), time.process_time()
        raws = raw_fn(triples)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        labels = [int(k in positive) for _, k in slots]
        fit = LogisticRegression(C=1e6, class_weight="balanced").fit(
            [[r] for r in raws], labels)
        coef, intercept = float(fit.coef_[0][0]), float(fit.intercept_[0])
        by_kind = {k: [None] * len(data) for k in ANSWER_KINDS}
        index = {i.qid: n for n, i in enumerate(data)}
        for (i, k), r in zip(slots, raws):
            by_kind[k][index[i.qid]] = r
        fig = figures(by_kind, None) if key == "correctness" else figures(None, by_kind)
        out[key] = {"center": round(-intercept / coef, 3), "scale": round(1 / coef, 3),
                    "wall_s_per_judgment": wall / len(slots),
                    "cpu_s_per_judgment": cpu / len(slots), **fig,
                    "raw": {f"{i.qid}/{k}": r for (i, k), r in zip(slots, raws)}}
        print(key, {k: v for k, v in out[key].items() if k != "raw"})
    name = args.judge.replace("/", "_").replace(":", "_")
    path = HERE / "results" / f"calibration-{name}.json"
    if path.exists():  # keep the other key's figures when only one was fitted
        out = {**json.loads(path.read_text()), **out}
    path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
