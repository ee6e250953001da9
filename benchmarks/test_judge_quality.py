"""Judge quality: how well each judge separates labelled answers, and what a judgment costs.

``test_judge_quality[<judge>]`` scores every answer of the labelled set (the shipped
``fixtures/rag/judge_pairs.jsonl``, or ``--judge-pairs FILE``) for correctness and helpfulness
and records the AUC of each pair type the set has (right vs near-miss, right vs off-topic,
answers vs evasive, answers vs off-topic), the Spearman correlation with the graded label,
seconds per judgment and whether a repeat gives the same scores.

Judges: the profile's list (``smoke``: a fast subset of questions) plus ``--judge SPEC``.
``openai:<model>`` is marked ``network`` and skips without ``OPENAI_API_KEY``; ``hf:<id or
path>`` runs the offline likelihood judge on another local causal LM and skips when the model
cannot be loaded here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmbench.core.specs import NO_JUDGE, is_remote
from llmbench.judges import JudgePairsError, JudgeUnavailable, cached_judge
from llmbench.profiles import DEFAULT_PROFILE, get_profile
from llmbench.pytest_plugin import judge_group
from llmbench.suites.judge import run_judge_quality

pytestmark = pytest.mark.judge


def judge_id(spec: str) -> str:
    return spec.replace(":", "-").replace("/", "-")


def _judge_specs(config: pytest.Config) -> list[str]:
    try:
        settings = get_profile(config.getoption("bench_profile") or DEFAULT_PROFILE["cpu"]).judge
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    specs = list(settings.judges)
    extra = config.getoption("judge")
    if extra and extra != NO_JUDGE and extra not in specs:
        specs.append(extra)
    return specs


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "judge_spec" in metafunc.fixturenames:
        metafunc.parametrize("judge_spec", [
            pytest.param(spec, id=judge_id(spec), marks=[
                judge_group(spec), *([pytest.mark.network] if is_remote(spec) else [])])
            for spec in _judge_specs(metafunc.config)])


def test_judge_quality(judge_spec, bench_profile, regression, request):
    settings = bench_profile.judge
    try:
        judge = cached_judge(judge_spec)
    except JudgeUnavailable as exc:
        pytest.skip(f"judge {judge_spec}: {exc}")
    pairs = request.config.getoption("judge_pairs")

    def run(seed: int):
        try:
            return run_judge_quality(replace(settings, seed=seed), judge_spec, judge=judge,
                                     pairs_path=pairs)
        except JudgePairsError as exc:
            raise pytest.fail.Exception(str(exc), pytrace=False) from None

    regression.measure(run, seed=settings.seed)
