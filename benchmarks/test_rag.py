"""RAG configuration benchmarks: every generator x retriever of the profile, against baselines.

``test_rag[<generator>+<retriever>]`` answers the profile's questions end to end (retrieval,
batched generation) and records BLEU, METEOR, ROUGE, recall@k / MRR / nDCG, tokens and latency,
plus the LLM judge's correctness and helpfulness (``--judge``; ``--judge none`` turns it off).
``test_retrieval_latency[<retriever>]`` times retrieval alone with pytest-benchmark (under xdist,
which turns pytest-benchmark off, the same rounds are timed by llmbench).
``test_retrieval_quality[<retriever>]`` scores retrieval alone (recall@k, MRR, nDCG) on every
labelled question of the QA set, not only the answered ones: no generation, seconds.

The matrix comes from the profile's ``RagSettings`` (``--bench-profile``). ``--rag-corpus DIR``
and ``--rag-qa FILE`` replace the fixture corpus and QA set. ``openai:<model>`` generators are
marked ``network`` and skip without ``OPENAI_API_KEY``; an endpoint that stays unreachable or
rate-limited fails that configuration only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from llmbench.pytest_plugin.extras import require_extra

require_extra("rag", "judge")

from llmbench.core.specs import hub_id  # noqa: E402
from llmbench.judges.errors import JudgeError  # noqa: E402
from llmbench.profiles import Profile, RagSettings  # noqa: E402
from llmbench.pytest_plugin import judge_group, resolve_profile, skip_without_hub  # noqa: E402
from llmbench.suites.rag.data import RagDataError  # noqa: E402
from llmbench.suites.rag.generators import (  # noqa: E402
    OPENAI_PREFIX,
    GenerationError,
    GeneratorUnavailable,
    UnknownGeneratorError,
)
from llmbench.suites.rag.pipeline import retrieval_task, run_rag_benchmark  # noqa: E402
from llmbench.suites.rag.retrieval_quality import RETRIEVAL_ONLY, retrieval_quality  # noqa: E402
from llmbench.suites.rag.retrievers import UnknownRetrieverError  # noqa: E402

pytestmark = pytest.mark.rag

# Retrieval timed alone: "none" retrieves nothing, and multi-query's retrieval is mostly an LLM
# call, which the end-to-end latency of test_rag already measures.
TIMED_RETRIEVERS = ("dense", "bm25", "ensemble")
EMBEDDING_RETRIEVERS = ("dense", "ensemble", "multi-query")


def config_id(generator: str, retriever: str) -> str:
    return f"{generator.replace(':', '-').replace('/', '-')}+{retriever}"


def _collection_settings(config: pytest.Config) -> RagSettings:
    """The matrix is collected from the CPU profile (with the project's profiles and the
    --rag-generators / --rag-retrievers overrides); a test outside its device's profile skips."""
    return resolve_profile(config, "cpu").rag


def _judge_spec(config: pytest.Config, settings: RagSettings) -> str:
    return config.getoption("judge") or settings.judge


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rag_config" in metafunc.fixturenames:
        settings = _collection_settings(metafunc.config)
        judge = _judge_spec(metafunc.config, settings)
        judge_marks = [] if judge == "none" else [pytest.mark.judge, judge_group(judge)]
        if judge.startswith(OPENAI_PREFIX):
            judge_marks.append(pytest.mark.network)
        cases = []
        for generator in settings.generators:
            marks = [pytest.mark.network] if generator.startswith(OPENAI_PREFIX) else []
            cases += [pytest.param((generator, retriever), id=config_id(generator, retriever),
                                   marks=[*marks, *judge_marks])
                      for retriever in settings.retrievers]
        metafunc.parametrize("rag_config", cases)
    if "timed_retriever" in metafunc.fixturenames:
        settings = _collection_settings(metafunc.config)
        metafunc.parametrize("timed_retriever",
                             [r for r in TIMED_RETRIEVERS if r in settings.retrievers])
    if "scored_retriever" in metafunc.fixturenames:
        settings = _collection_settings(metafunc.config)
        metafunc.parametrize("scored_retriever",
                             [r for r in RETRIEVAL_ONLY if r in settings.retrievers])


def _hub_repos(settings: RagSettings, generator: str, retriever: str) -> list[str]:
    """Hub repositories this configuration downloads (its generator, its embedder)."""
    specs = [generator] + ([settings.embedder] if retriever in EMBEDDING_RETRIEVERS else [])
    return [repo for repo in map(hub_id, specs) if repo]


def _data_overrides(config: pytest.Config) -> dict[str, Any]:
    return {"corpus_dir": config.getoption("rag_corpus"), "qa_path": config.getoption("rag_qa")}


@contextmanager
def _clear_failures(case: str) -> Iterator[None]:
    """Bad input and failed endpoints fail this case with their message, not a traceback."""
    try:
        yield
    except (RagDataError, UnknownGeneratorError, UnknownRetrieverError, GenerationError,
            JudgeError) as exc:
        raise pytest.fail.Exception(f"{case}: {exc}", pytrace=False) from None


def _judge(config: pytest.Config, profile: Profile, device: str) -> Any:
    spec = _judge_spec(config, profile.rag)
    if spec == "none":
        return None
    from llmbench.judges import JudgePairsError, JudgeUnavailable, rag_judge
    from llmbench.suites.judge import load_items

    try:
        # the judge's AUCs on these labelled answers go into every result it scores
        labelled = load_items(profile.judge, config.getoption("judge_pairs"))
        return rag_judge(spec, config.getoption("judge_repeats"), labelled=labelled,
                         device=device)  # the configuration's device, like its models
    except JudgeUnavailable as exc:
        pytest.skip(f"judge {spec}: {exc} (or run with --judge none)")
    except JudgePairsError as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None


def test_rag(rag_config, bench_profile, bench_device, regression, request):
    generator, retriever = rag_config
    settings = bench_profile.rag
    if generator not in settings.generators or retriever not in settings.retrievers:
        pytest.skip(f"profile {bench_profile.name!r} does not include {generator} + {retriever}")
    skip_without_hub(bench_profile, _hub_repos(settings, generator, retriever))
    judge = _judge(request.config, bench_profile, bench_device)

    def run(seed: int):
        with _clear_failures(config_id(generator, retriever)):
            result = run_rag_benchmark(replace(settings, seed=seed), generator, retriever,
                                       device=bench_device, judge=judge,
                                       **_data_overrides(request.config))
        if request.config.getoption("langsmith"):
            from llmbench.suites.rag.langsmith_experiments import record_configuration

            record_configuration(result)  # -> artifacts["langsmith"]; no key / failure -> a note
        for note in result.notes:
            warnings.warn(note, UserWarning, stacklevel=1)
        return result

    try:
        regression.measure(run, seed=settings.seed)
    except GeneratorUnavailable as exc:
        pytest.skip(str(exc))


def test_retrieval_latency(timed_retriever, bench_profile, bench_device, regression, benchmark,
                           request):
    settings = bench_profile.rag
    if timed_retriever not in settings.retrievers:
        pytest.skip(f"profile {bench_profile.name!r} does not include {timed_retriever}")
    skip_without_hub(bench_profile, _hub_repos(settings, "", timed_retriever))
    with _clear_failures(timed_retriever):
        task = retrieval_task(settings, timed_retriever, device=bench_device,
                              **_data_overrides(request.config))
    benchmark.group = f"rag retrieval ({bench_profile.name}, {bench_device})"
    benchmark.extra_info.update(retriever=timed_retriever, k=settings.k,
                                questions=len(task.questions))
    if benchmark.disabled:  # --benchmark-disable, or xdist: time the same rounds ourselves
        result = task.result(task.time_rounds(settings.retrieval_rounds), bench_device)
        result.artifacts["timer"] = "llmbench (pytest-benchmark is off)"
    else:
        benchmark.pedantic(task.run, rounds=settings.retrieval_rounds, warmup_rounds=1,
                           iterations=1)
        result = task.result(list(benchmark.stats.stats.data), bench_device)
        result.artifacts["pytest_benchmark"] = benchmark.stats.stats.as_dict()
    regression.check(result)


def test_retrieval_quality(scored_retriever, bench_profile, bench_device, regression, request):
    settings = bench_profile.rag
    if scored_retriever not in settings.retrievers:
        pytest.skip(f"profile {bench_profile.name!r} does not include {scored_retriever}")
    skip_without_hub(bench_profile, _hub_repos(settings, "", scored_retriever))

    with _clear_failures(scored_retriever):
        result = retrieval_quality(settings, scored_retriever, device=bench_device,
                                   **_data_overrides(request.config))
    # Measured once: its scores are reproducible and it has no timing to sample (repeats would
    # only spend the seconds --bench-repeats auto gives a cheap benchmark).
    regression.check(result)
