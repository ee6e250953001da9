"""The old offline judge (openevals rubric + yes/no question, P(yes) of SmolLM2-135M) on the set.

Run: python docs/judge-study/yes_no.py [LIMIT]   (the yes/no client as it was at commit
f50d0a7, copied to docs/judge-study/old_yes_no_client.py; LIMIT = first N questions)
"""
from __future__ import annotations

import sys
import time

from common import figures, items, save
from old_yes_no_client import YES_NO_QUESTIONS, YesNoJudgeClient
from openevals.llm import create_llm_as_judge
from openevals.prompts import CORRECTNESS_PROMPT, RAG_HELPFULNESS_PROMPT

from llmbench.judges.labelled import ANSWER_KINDS
from llmbench.sources.models import load_model, load_tokenizer

client = YesNoJudgeClient(load_model("smollm2-135m"), load_tokenizer("smollm2-135m"),
                          "smollm2-135m")
evaluators = {
    key: create_llm_as_judge(prompt=f"{prompt}\n{YES_NO_QUESTIONS[key]}", feedback_key=key,
                             judge=client, model="smollm2-135m", continuous=True)
    for key, prompt in (("correctness", CORRECTNESS_PROMPT),
                        ("helpfulness", RAG_HELPFULNESS_PROMPT))}
data = items(int(sys.argv[1]) if len(sys.argv) > 1 else None)
scores = {key: {kind: [] for kind in ANSWER_KINDS} for key in evaluators}
n, start = 0, time.perf_counter()
for item in data:
    for kind in ANSWER_KINDS:
        answer = item.answer(kind)
        for key, ev in evaluators.items():
            if answer is None:
                scores[key][kind].append(None)
                continue
            kwargs = {"inputs": item.question, "outputs": answer}
            if key == "correctness":
                kwargs["reference_outputs"] = item.reference
            scores[key][kind].append(ev(**kwargs)["score"])
            n += 1
seconds = (time.perf_counter() - start) / n
save(f"yes_no_p_yes-{len(data)}", {"variant": "openevals rubric + yes/no P(yes), smollm2-135m",
                      **figures(scores["correctness"], scores["helpfulness"]),
                      "s_per_judgment": round(seconds, 3), "judgments": n, "items": len(data),
                      "scores": scores})
