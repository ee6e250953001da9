"""Generation speed of the RAG generator against model.generate, one prompt at a time and in the
same batches, measured side by side in one process (the ratios cancel the machine's drift)."""

from __future__ import annotations

import pytest

from llmbench.pytest_plugin.extras import require_extra

require_extra("rag")

from llmbench.suites.rag.generation_speed import run_generation_speed  # noqa: E402

pytestmark = pytest.mark.rag

GENERATOR = "smollm2-135m"  # the bundled local model (offline)
QUESTIONS = {"smoke": 2, "embedded": 4}  # other profiles: 8


def test_generation_speed(bench_profile, bench_device, regression):
    questions = QUESTIONS.get(bench_profile.name, 8)
    regression.measure(
        lambda seed: run_generation_speed(bench_profile.rag, GENERATOR, device=bench_device,
                                          questions=questions),
        seed=0)
