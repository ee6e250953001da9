"""Likelihood-based judge variants on fixtures/rag/judge_pairs.jsonl.

    python docs/judge-study/variants.py [--model smollm2-135m] [--only NAME ...] [--limit N]

Each variant writes results/<name>.json: AUCs (correctness: right vs near-miss / off-topic /
evasive, Spearman against the graded label; helpfulness: answers vs evasive / off-topic),
seconds per judgment (wall time of its forward passes / judgments; the reference-alone and
null terms are computed once per question and included) and every score.
"""
from __future__ import annotations

import argparse
import time

from common import figures, items, save

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.judges.likelihood import TokenLogProbs

FEW_SHOT = ("Question: What time does the library open on Saturdays?\n"
            "Answer: On Saturdays the doors open at 10 in the morning.\n"
            "Reference answer: The library opens at 10:00 on Saturdays.\n\n"
            "Question: How many people sit on the board?\n"
            "Answer: The board has seven members.\n"
            "Reference answer: Seven people sit on the board.\n\n")


def mean(xs):
    return sum(xs) / len(xs)


# --- correctness templates: (context with candidate, context without, continuation) ---------
def fwd_ref(q, a, ref):  # log P(ref | q, a) - log P(ref | q)
    return (f"Question: {q}\nAnswer: {a}\nReference answer:",
            f"Question: {q}\nReference answer:", " " + ref)


def fwd_inwords(q, a, ref):
    return (f"Question: {q}\nAnswer: {a}\nIn other words:", f"Question: {q}\nAnswer:", " " + ref)


def fwd_fewshot(q, a, ref):
    c, n, cont = fwd_ref(q, a, ref)
    return FEW_SHOT + c, FEW_SHOT + n, cont


def rev_ref(q, a, ref):  # log P(a | q, ref) - log P(a | q)
    return (f"Question: {q}\nReference answer: {ref}\nAnswer:", f"Question: {q}\nAnswer:",
            " " + a)


class Chat:
    def __init__(self, tok):
        self.tok = tok

    def fwd(self, q, a, ref):
        t = self.tok.apply_chat_template
        with_a = t([{"role": "user", "content": q}, {"role": "assistant", "content": a},
                    {"role": "user", "content": "Say that again in other words."}],
                   tokenize=False, add_generation_prompt=True)
        without = t([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        return with_a, without, ref


def pmi_scores(scorer, data, template, reduce="mean"):
    triples = []
    for item in data:
        for kind in ANSWER_KINDS:
            a = item.answer(kind)
            if a is not None:
                triples.append((item, kind, template(item.question, a, item.reference)))
    pairs = [(c, cont) for _, _, (c, _, cont) in triples] + \
            [(n, cont) for _, _, (_, n, cont) in triples]
    start = time.perf_counter()
    lps = scorer(pairs)
    seconds = time.perf_counter() - start
    k = len(triples)
    agg = mean if reduce == "mean" else sum
    out = {kind: [] for kind in ANSWER_KINDS}
    by = {(t[0].qid, t[1]): agg(lps[i]) - agg(lps[k + i]) for i, t in enumerate(triples)}
    for item in data:
        for kind in ANSWER_KINDS:
            out[kind].append(by.get((item.qid, kind)))
    return out, seconds / k


def combine(a, b):
    return {k: [None if x is None else (x + y) for x, y in zip(a[k], b[k])] for k in a}


# --- helpfulness: reference-free ---------------------------------------------------------------
def h_ans_given_q(q, a):
    return f"Question: {q}\nAnswer:", "Answer:", " " + a


def h_ans_given_q_generic(q, a):
    return f"Question: {q}\nAnswer:", "Question: Can you help me with something?\nAnswer:", \
        " " + a


def h_q_given_ans(q, a):
    return f"Answer: {a}\nThe question this answers:", "The question this answers:", " " + q


def help_scores(scorer, data, template):
    return pmi_scores(scorer, data, lambda q, a, ref: template(q, a))


VARIANTS = {}


def variant(name):
    def deco(fn):
        VARIANTS[name] = fn
        return fn
    return deco


@variant("pmi_fwd_mean")
def _(s, d, tok):
    return pmi_scores(s, d, fwd_ref), "mean log P(ref | q, a) - mean log P(ref | q)"


@variant("pmi_fwd_sum")
def _(s, d, tok):
    return pmi_scores(s, d, fwd_ref, "sum"), "sum (no length normalisation) of the same"


@variant("pmi_fwd_inwords")
def _(s, d, tok):
    return pmi_scores(s, d, fwd_inwords), "'In other words:' template, null = P(ref | q) as answer"


@variant("pmi_fwd_fewshot")
def _(s, d, tok):
    return pmi_scores(s, d, fwd_fewshot), "two-shot prefix + pmi_fwd_mean"


@variant("pmi_fwd_chat")
def _(s, d, tok):
    return pmi_scores(s, d, Chat(tok).fwd), "chat template: q / a / 'Say that again' -> ref"


@variant("pmi_rev_mean")
def _(s, d, tok):
    return pmi_scores(s, d, rev_ref), "mean log P(a | q, ref) - mean log P(a | q)"


@variant("pmi_both_mean")
def _(s, d, tok):
    (f, t1), (r, t2) = pmi_scores(s, d, fwd_ref), pmi_scores(s, d, rev_ref)
    return (combine(f, r), t1 + t2), "pmi_fwd_mean + pmi_rev_mean"


HELP = {
    "help_pmi_a_given_q": (h_ans_given_q, "mean log P(a | q) - mean log P(a | 'Answer:')"),
    "help_pmi_a_given_q_generic": (h_ans_given_q_generic,
                                   "mean log P(a | q) - mean log P(a | a generic question)"),
    "help_pmi_q_given_a": (h_q_given_ans, "mean log P(q | a) - mean log P(q)"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    from llmbench.sources.models import load_model, load_tokenizer

    tok = load_tokenizer(args.model)
    scorer_model = load_model(args.model)
    data = items(args.limit)
    tag = args.model.replace("/", "_").replace(":", "_")
    for name, fn in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        scorer = TokenLogProbs(scorer_model, tok, args.model, batch_size=args.batch_size)
        (scores, spj), what = fn(scorer, data, tok)
        save(f"{tag}-{name}", {"variant": name, "what": what, "model": args.model,
                               **figures(scores, None), "s_per_judgment": round(spj, 3),
                               "items": len(data), "scores": scores})
    for name, (template, what) in HELP.items():
        if args.only and name not in args.only:
            continue
        scorer = TokenLogProbs(scorer_model, tok, args.model, batch_size=args.batch_size)
        scores, spj = help_scores(scorer, data, template)
        save(f"{tag}-{name}", {"variant": name, "what": what, "model": args.model,
                               **figures(None, scores), "s_per_judgment": round(spj, 3),
                               "items": len(data), "scores": scores})


if __name__ == "__main__":
    main()
