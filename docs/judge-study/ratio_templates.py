"""The PMI ratio under other templates, and the mean of two templates' ratios (an ensemble).

    python docs/judge-study/ratio_templates.py
"""
from __future__ import annotations

import json
import time

from common import HERE, figures, items

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.sources.models import load_model, load_tokenizer

TEMPLATES = {
    "reference": ("Question: {q}\nAnswer: {a}\nReference answer:", "Question: {q}\nReference answer:"),
    "in_other_words": ("Question: {q}\nAnswer: {a}\nIn other words:", "Question: {q}\nIn other words:"),
    "answer_key": ("Question: {q}\nStudent's answer: {a}\nAnswer key:", "Question: {q}\nAnswer key:"),
}


def main():
    scorer = TokenLogProbs(load_model("smollm2-135m"), load_tokenizer("smollm2-135m"), "smollm2-135m")
    data = items()
    slots = [(i, k) for i in data for k in ANSWER_KINDS if k in i.answers]
    qids = [i.qid for i in data]
    ratios, report = {}, {}
    for name, (with_a, alone) in TEMPLATES.items():
        cpu = time.process_time()
        cand = scorer([(with_a.format(q=i.question, a=i.answers[k]), " " + i.reference) for i, k in slots])
        base = scorer([(alone.format(q=i.question), " " + i.reference) for i in data])
        own = scorer([(with_a.format(q=i.question, a=i.reference), " " + i.reference) for i in data])
        cpu = time.process_time() - cpu
        b = {i.qid: sum(x) for i, x in zip(data, base)}
        o = {i.qid: sum(x) for i, x in zip(data, own)}
        ratios[name] = {(i.qid, k): (sum(lp) - b[i.qid]) / max(o[i.qid] - b[i.qid], 1.0)
                        for (i, k), lp in zip(slots, cand)}
        report[name] = {**figures({k: [ratios[name].get((q, k)) for q in qids] for k in ANSWER_KINDS}, None),
                        "cpu_s_per_answer": round(cpu / len(slots), 3)}
        print(name, report[name])
    names = list(TEMPLATES)
    for a in range(len(names)):
        for b2 in range(a + 1, len(names)):
            x, y = names[a], names[b2]
            mean = {s: (ratios[x][s] + ratios[y][s]) / 2 for s in ratios[x]}
            report[f"{x}+{y}"] = figures({k: [mean.get((q, k)) for q in qids] for k in ANSWER_KINDS}, None)
            print(f"{x}+{y}", report[f"{x}+{y}"])
    mean3 = {s: sum(ratios[n][s] for n in names) / len(names) for s in ratios[names[0]]}
    report["all three"] = figures({k: [mean3.get((q, k)) for q in qids] for k in ANSWER_KINDS}, None)
    print("all three", report["all three"])
    (HERE / "results" / "ratio-templates-smollm2-135m.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
