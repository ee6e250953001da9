"""How fast the RAG generator answers, against two references measured in the same session.

Three ways to answer the same prompts greedily with the same model, interleaved ``rounds``
times so a busy spell on the machine hits all of them, after ``warmup_rounds`` untimed rounds
(the first generation of a process pays one-off costs: CUDA kernels loaded on first use, cuBLAS
handles, the allocator's first blocks; with two timed rounds a cold first one would be half of
the median):

* ``ours``       -- ``LocalGenerator.generate`` (chat template, left-padded batches of
  ``batch_size``, stops at EOS): what the RAG benchmarks measure;
* ``hf_single``  -- ``model.generate`` one prompt at a time, no padding;
* ``hf_batched`` -- ``model.generate`` on the same left-padded batches, without our wrapper.

Tokens/s counts generated tokens up to and including the first EOS. The ratios
(``speedup_vs_single``, ``ratio_vs_hf_batched``) compare code measured side by side, so the
machine's drift between sessions cancels; ``outputs_match_single`` is the share of answers that
batching left identical to one-at-a-time greedy decoding (padding can flip a token). A 135M
model answering one short batch is paced by the host on a GPU too: the speeds are
``host_throughput``, the ratios ``host_speed_ratio`` (``regression.tolerances``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from llmbench.profiles import RagSettings
from llmbench.regression.results import Result, cost, info
from llmbench.suites.rag.data import QAItem, qa_digest
from llmbench.suites.rag.generators import LocalGenerator, build_generator
from llmbench.suites.rag.pipeline import load_data
from llmbench.suites.rag.prompts import Messages, answer_messages

SUITE = "generation"
VARIANTS = ("ours", "hf_single", "hf_batched")


def gold_prompts(settings: RagSettings, questions: int) -> tuple[list[Messages], list[QAItem]]:
    """Each question with its labelled documents (all their chunks) as context: realistic
    prompt lengths without a retriever in the measurement."""
    corpus, items = load_data(settings)
    chosen = list(items[:questions])
    prompts = [answer_messages(item.question, [p for p in corpus.passages
                                               if p.doc_id in item.doc_ids])
               for item in chosen]
    return prompts, chosen


def _generated_tokens(generator: LocalGenerator, rows: Any, prompt_width: int) -> list[list[int]]:
    return [row[prompt_width:prompt_width + generator._completion_length(row[prompt_width:])]
            for row in rows.tolist()]


def _hf_generate(generator: LocalGenerator, texts: Sequence[str], max_new_tokens: int
                 ) -> list[list[int]]:
    import torch

    tok = generator.tokenizer
    batch = tok(list(texts), return_tensors="pt", padding=True,
                add_special_tokens=not generator.has_chat_template).to(generator.model.device)
    with torch.inference_mode():
        out = generator.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                       pad_token_id=tok.pad_token_id)
    return _generated_tokens(generator, out, batch["input_ids"].shape[1])


def _timed(fn: Callable[[], list[list[int]]]) -> tuple[float, list[list[int]]]:
    start = time.perf_counter()
    tokens = fn()
    return time.perf_counter() - start, tokens


def run_generation_speed(settings: RagSettings, generator_spec: str, *, device: str = "cpu",
                         questions: int = 16, rounds: int = 2, warmup_rounds: int = 1) -> Result:
    if rounds < 1 or questions < 1 or warmup_rounds < 0:
        raise ValueError(f"rounds and questions must be >= 1 and warmup_rounds >= 0, got "
                         f"{rounds}, {questions}, {warmup_rounds}")
    generator = build_generator(generator_spec, device=device)
    if not isinstance(generator, LocalGenerator):
        raise ValueError(f"generation speed compares local generation only; {generator_spec!r} "
                         "is a remote endpoint")
    prompts, items = gold_prompts(settings, questions)
    texts = [generator.render(m) for m in prompts]
    n_new, batch = settings.max_new_tokens, settings.batch_size

    def ours() -> list[list[int]]:
        completions = generator.generate(prompts, max_new_tokens=n_new, batch_size=batch)
        # the generator reports its generated token count (EOS included), not the token ids
        return [[0] * (c.completion_tokens or 0) for c in completions]

    def hf_single() -> list[list[int]]:
        return [tokens for text in texts for tokens in _hf_generate(generator, [text], n_new)]

    def hf_batched() -> list[list[int]]:
        return [tokens for start in range(0, len(texts), batch)
                for tokens in _hf_generate(generator, texts[start:start + batch], n_new)]

    runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
    counts: dict[str, int] = {}
    outputs: dict[str, list[list[int]]] = {}
    variants = {"ours": ours, "hf_single": hf_single, "hf_batched": hf_batched}
    for _ in range(warmup_rounds):
        for name in VARIANTS:
            variants[name]()
    for _ in range(rounds):
        for name in VARIANTS:
            seconds, tokens = _timed(variants[name])
            counts[name] = sum(len(t) for t in tokens)
            outputs[name] = tokens
            runs[name].append(counts[name] / seconds)
    speed = {name: statistics.median(values) for name, values in runs.items()}
    # the questions (and so the prompts' lengths) define the workload whose speed is measured
    result = Result(SUITE, {"generator": generator_spec, "questions": len(prompts),
                            "qa": qa_digest(items), "max_new_tokens": n_new, "batch_size": batch,
                            "rounds": rounds})
    for name in VARIANTS:
        metric = cost(speed[name], "tokens/s", "higher", kind="host_throughput",
                      device=device)
        metric.samples = runs[name]
        result.add(f"{name}_tokens_per_s", metric)
    for name, reference in (("speedup_vs_single", "hf_single"),
                            ("ratio_vs_hf_batched", "hf_batched")):
        ratio = cost(speed["ours"] / speed[reference], "x", "higher", kind="host_speed_ratio",
                     device=device)
        ratio.samples = [a / b for a, b in zip(runs["ours"], runs[reference])]  # per round
        result.add(name, ratio)
    same = sum(a == b for a, b in zip(outputs["hf_batched"], outputs["hf_single"]))
    result.add("outputs_match_single", info(same / len(prompts), "share"))
    result.add("generated_tokens", info(counts["ours"], "tokens"))
    result.artifacts = {"tokens_per_s": runs, "question_ids": [i.qid for i in items],
                        "warmup_rounds": warmup_rounds}
    return result
