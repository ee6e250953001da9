"""Command-line overrides of a profile's matrix axes and step count.

``--lora-ranks 8,64``, ``--precisions nf4,bf16``, ``--rag-generators smollm2-135m,openai:gpt-4o``
and ``--rag-retrievers bm25,dense`` replace one axis of the resolved profile; the cases they
select keep their test ids and their params, so they compare with the same baselines (the axes
are not part of any case's config hash). ``--bench-steps N`` changes what is measured, so it is
in the params and baselines become "not comparable".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from llmbench.core.specs import generator_spec_problem
from llmbench.profiles.builtin import ALL_PRECISIONS, ALL_RETRIEVERS, Profile
from llmbench.profiles.schema import canonical_axes


@dataclass(frozen=True)
class Overrides:
    steps: int | None = None
    lora_ranks: tuple[int, ...] | None = None
    precisions: tuple[str, ...] | None = None
    rag_generators: tuple[str, ...] | None = None
    rag_retrievers: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, *, steps: int | None = None, lora_ranks: str | None = None,
              precisions: str | None = None, rag_generators: str | None = None,
              rag_retrievers: str | None = None) -> Overrides:
        """Check the options' text; a ValueError names the option and the valid choices."""
        if steps is not None and steps < 1:
            raise ValueError(f"--bench-steps must be >= 1, got {steps}")
        return cls(
            steps=steps,
            lora_ranks=None if lora_ranks is None else parse_ranks(lora_ranks),
            precisions=None if precisions is None else parse_choices(
                "--precisions", precisions, ALL_PRECISIONS),
            rag_generators=None if rag_generators is None else parse_generators(rag_generators),
            rag_retrievers=None if rag_retrievers is None else parse_choices(
                "--rag-retrievers", rag_retrievers, ALL_RETRIEVERS),
        )

    def apply(self, profile: Profile) -> Profile:
        lora = _axes(profile.lora, "lora", ranks=self.lora_ranks)
        quant = _axes(profile.quant, "quant", precisions=self.precisions)
        rag = _axes(profile.rag, "rag", generators=self.rag_generators,
                    retrievers=self.rag_retrievers)
        return dataclasses.replace(profile, lora=lora, quant=quant, rag=rag).with_overrides(
            steps=self.steps)


def _axes(settings, suite: str, **axes):
    values = canonical_axes(suite, {k: v for k, v in axes.items() if v is not None})
    return dataclasses.replace(settings, **values) if values else settings


def _items(option: str, text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise ValueError(f"{option}: give a comma-separated list without empty items, "
                         f"got {text!r}")
    return items


def parse_ranks(text: str) -> tuple[int, ...]:
    ranks = []
    for item in _items("--lora-ranks", text):
        try:
            rank = int(item)
        except ValueError:
            rank = 0
        if rank < 1:
            raise ValueError(f"--lora-ranks: {item!r} is not a rank; give positive integers "
                             "such as 8,64")
        ranks.append(rank)
    return tuple(sorted(set(ranks)))


def parse_choices(option: str, text: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    items = _items(option, text)
    unknown = [item for item in items if item not in valid]
    if unknown:
        raise ValueError(f"{option}: unknown {', '.join(map(repr, unknown))}; valid: "
                         f"{', '.join(valid)}")
    return tuple(v for v in valid if v in items)


def parse_generators(text: str) -> tuple[str, ...]:
    items = _items("--rag-generators", text)
    for item in items:
        problem = generator_spec_problem(item)
        if problem:
            raise ValueError(f"--rag-generators: {problem}")
    return tuple(dict.fromkeys(items))
