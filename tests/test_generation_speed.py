"""Generation speed: an untimed warm-up round first, then the timed rounds, interleaved."""

from __future__ import annotations

import pytest

from llmbench.profiles import PROFILES
from llmbench.regression.tolerances import tolerance
from llmbench.suites.rag import generation_speed
from llmbench.suites.rag.generators import Completion, LocalGenerator


class ScriptedGenerator(LocalGenerator):
    """Answers every prompt with three tokens; counts the calls of each variant."""

    def __init__(self, calls: list[str]) -> None:  # no model to load
        self.spec = "scripted"
        self.device = "cuda"
        self.has_chat_template = False
        self.eos_ids = set()
        self.calls = calls

    def render(self, messages) -> str:
        return messages[-1]["content"]

    def generate(self, prompts, *, max_new_tokens, batch_size=1):
        self.calls.append("ours")
        return [Completion("a b c", 10, 3, 0.1) for _ in prompts]


@pytest.fixture
def calls(monkeypatch):
    made: list[str] = []
    timed: list[str] = []
    monkeypatch.setattr(generation_speed, "build_generator",
                        lambda spec, device="cpu": ScriptedGenerator(made))

    def hf_generate(generator, texts, max_new_tokens):
        made.append("hf_single" if len(texts) == 1 else "hf_batched")
        return [[1, 2, 3] for _ in texts]

    real_timed = generation_speed._timed

    def record_timed(fn):
        before = len(made)
        seconds, tokens = real_timed(fn)
        timed.append(made[before])
        return max(seconds, 1e-6), tokens

    monkeypatch.setattr(generation_speed, "_hf_generate", hf_generate)
    monkeypatch.setattr(generation_speed, "_timed", record_timed)
    return made, timed


def test_a_warm_up_round_runs_every_variant_untimed_first(calls):
    made, timed = calls
    settings = PROFILES["smoke"].rag
    result = generation_speed.run_generation_speed(settings, "scripted", device="cuda",
                                                   questions=2, rounds=2)
    # batch 8 holds both questions: one call per variant and round, hf_single one per question
    assert made[:4] == ["ours", "hf_single", "hf_single", "hf_batched"]  # the warm-up round
    assert timed == ["ours", "hf_single", "hf_batched"] * 2  # then two timed rounds
    assert len(made) == 3 * 4
    assert len(result.metrics["ours_tokens_per_s"].samples) == 2  # warm-up not a sample
    assert result.artifacts["warmup_rounds"] == 1
    assert "warmup_rounds" not in result.params  # a measurement detail: baselines still apply


def test_generation_speeds_are_judged_as_host_bound_on_cuda(calls):
    result = generation_speed.run_generation_speed(PROFILES["smoke"].rag, "scripted",
                                                   device="cuda", questions=1, rounds=1,
                                                   warmup_rounds=0)
    speed, ratio = result.metrics["ours_tokens_per_s"], result.metrics["speedup_vs_single"]
    assert (speed.kind, ratio.kind) == ("host_throughput", "host_speed_ratio")
    assert tolerance(speed.kind, "cuda") == tolerance("throughput", "cpu")
    assert tolerance(ratio.kind, "cuda") == tolerance("speed_ratio", "cpu")


def test_warm_up_rounds_cannot_be_negative(calls):
    with pytest.raises(ValueError, match="warmup_rounds"):
        generation_speed.run_generation_speed(PROFILES["smoke"].rag, "scripted",
                                              warmup_rounds=-1)
