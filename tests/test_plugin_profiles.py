"""The plugin with project profiles and override flags: parametrization, usage errors, baselines."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# In-process pytester runs snapshot sys.modules; torch, transformers and peft (imported by the
# real benchmark modules below) must be imported before the snapshot.
import torch  # noqa: F401

import llmbench.suites.lora.runner  # noqa: F401
import llmbench.suites.quant  # noqa: F401
import llmbench.suites.rag.pipeline  # noqa: F401
from llmbench.sources import hub

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# Parametrized like benchmarks/test_lora_ranks.py; params are the resolved settings.
BENCH = """
import dataclasses
import pytest
from llmbench.pytest_plugin import collection_profiles
from llmbench.regression.results import Result, quality

pytestmark = pytest.mark.lora


def pytest_generate_tests(metafunc):
    if "rank" in metafunc.fixturenames:
        ranks = sorted({r for p in collection_profiles(metafunc.config) for r in p.lora.ranks})
        metafunc.definition.add_marker(pytest.mark.parametrize("rank", ranks,
                                                               ids=lambda r: f"r{r}"))


def test_rank(rank, bench_profile, bench_device, regression):
    if rank not in bench_profile.lora.ranks:
        pytest.skip(f"rank {rank} is not in profile {bench_profile.name!r}")
    params = dataclasses.asdict(bench_profile.lora)
    del params["ranks"]
    regression.check(Result("lora", {**params, "rank": rank},
                            {"loss": quality(1.0, "nats", rel_tol=0.05)}))
"""

PYPROJECT = """
[tool.llmbench.profiles.mine]
extends = "smoke"
description = "ranks 8 and 16"

[tool.llmbench.profiles.mine.lora]
ranks = [16, 8]
lr = 0.005
"""


@pytest.fixture
def project(pytester):
    pytester.makepyfile(test_bench=BENCH)
    pytester.makefile(".toml", pyproject=textwrap.dedent(PYPROJECT))
    return pytester


def collected(result) -> list[str]:
    return [line.split("::", 1)[1] for line in result.stdout.lines if "::" in line]


def test_user_profile_from_pyproject_drives_parametrization_and_baselines(project):
    result = project.runpytest("--bench-profile", "mine", "--update-baselines")
    result.assert_outcomes(passed=2, skipped=2)  # cuda cases skip without CUDA
    assert (project.path / "baselines" / "mine" / "bench" / "rank" / "r16.json").is_file()
    assert (project.path / "baselines" / "mine" / "bench" / "rank" / "r8.json").is_file()
    project.runpytest("--bench-profile", "mine").assert_outcomes(passed=2, skipped=2)


def test_standalone_llmbench_toml_is_read(pytester):
    pytester.makepyfile(test_bench=BENCH)
    pytester.makefile(".toml", llmbench='[profiles.solo]\nextends = "smoke"\n'
                                        '[profiles.solo.lora]\nranks = [4]\n')
    result = pytester.runpytest("--bench-profile", "solo", "--collect-only", "-q")
    assert collected(result) == ["test_rank[cpu-r4]", "test_rank[cuda-r4]"]


def test_same_resolved_settings_compare_with_the_same_baselines(project):
    project.runpytest("--bench-profile", "mine", "--update-baselines", "--lora-ranks", "8,16")
    # another spelling, a subset of the axis, and no flag at all: all comparable, all pass
    for args in (["--lora-ranks", "16,8"], ["--lora-ranks", " 16"], []):
        project.runpytest("--bench-profile", "mine", *args).assert_outcomes(
            passed=2 if args != ["--lora-ranks", " 16"] else 1,
            skipped=2 if args != ["--lora-ranks", " 16"] else 1)
    # a setting that changes what is measured: not comparable
    result = project.runpytest("--bench-profile", "mine", "--bench-steps", "7")
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines(["*not comparable*steps: 40 -> 7*"])


@pytest.mark.parametrize(("args", "ids"), [
    (["--lora-ranks", "64,8"],
     ["test_lora_rank[cpu-r8]", "test_lora_rank[cpu-r64]"]),
    (["--precisions", "nf4,fp32"],
     ["test_precision[cpu-fp32]", "test_precision[cpu-nf4]"]),
    (["--rag-generators", "smollm2-135m,openai:gpt-4.1-nano"],
     [f"test_rag[{g}+{r}-cpu]" for g in ("smollm2-135m", "openai-gpt-4.1-nano")
      for r in ("none", "dense", "bm25", "ensemble", "multi-query")]
     + [f"test_retrieval_latency[{r}-cpu]" for r in ("dense", "bm25", "ensemble")]
     + [f"test_retrieval_quality[{r}-cpu]" for r in ("dense", "bm25", "ensemble")]),
    (["--rag-retrievers", "bm25,none"],
     ["test_rag[smollm2-135m+none-cpu]", "test_rag[smollm2-135m+bm25-cpu]",
      "test_retrieval_latency[bm25-cpu]", "test_retrieval_quality[bm25-cpu]"]),
])
def test_each_override_flag_parametrizes_the_real_benchmarks(pytester, args, ids):
    module = {"--lora-ranks": "test_lora_ranks", "--precisions": "test_quantization"}.get(
        args[0], "test_rag")
    pytester.makepyfile(**{module: (BENCHMARKS / f"{module}.py").read_text()})
    result = pytester.runpytest("--bench-profile", "smoke", "--collect-only", "-q",
                                "-m", "not gpu", *args)
    assert collected(result) == ids


def test_project_profile_parametrizes_the_real_benchmarks(pytester):
    pytester.makepyfile(test_lora_ranks=(BENCHMARKS / "test_lora_ranks.py").read_text())
    pytester.makefile(".toml", pyproject=textwrap.dedent(PYPROJECT))
    result = pytester.runpytest("--bench-profile", "mine", "--collect-only", "-q",
                                "-m", "not gpu")
    assert collected(result) == ["test_lora_rank[cpu-r8]", "test_lora_rank[cpu-r16]"]


@pytest.mark.parametrize(("files", "args", "message"), [
    ({"pyproject": '[tool.llmbench.profiles.bad]\nextends = "smoke"\n'
                   '[tool.llmbench.profiles.bad.lora]\nrankz = [8]\n'}, [],
     "*pyproject.toml: [[]tool.llmbench.profiles.bad.lora[]] unknown key 'rankz'*"),
    ({"llmbench": '[profiles.bad]\nextends = "smoke"\n[profiles.bad.quant]\nqlora_steps = "3"\n'},
     [], "*llmbench.toml: [[]profiles.bad.quant[]] key 'qlora_steps' must be an integer*"),
    ({}, ["--lora-ranks", "eight"], "*--lora-ranks: 'eight' is not a rank*"),
    ({}, ["--precisions", "int4"], "*--precisions: unknown 'int4'; valid: fp32*"),
    ({}, ["--rag-generators", "llama"], "*--rag-generators: unknown generator 'llama'; valid:*"),
    ({}, ["--rag-retrievers", "splade"], "*--rag-retrievers: unknown 'splade'; valid: none*"),
])
def test_bad_profile_or_flag_is_a_usage_error_before_anything_runs(pytester, files, args,
                                                                    message):
    pytester.makepyfile(test_bench=BENCH)
    for name, text in files.items():
        pytester.makefile(".toml", **{name: text})
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "passed" not in result.stdout.str()


def test_profile_that_needs_an_unreachable_hub_skips_with_the_reason(project, monkeypatch,
                                                                      tmp_path):
    project.makefile(".toml", llmbench='[profiles.hubby]\nextends = "smoke"\n'
                                       '[profiles.hubby.lora]\nmodel = "facebook/opt-350m"\n')
    monkeypatch.setattr(hub, "hub_cache", lambda: tmp_path / "empty-cache")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", closed)
    result = project.runpytest("--bench-profile", "hubby", "-rs", "-m", "not gpu")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines([
        "*profile 'hubby' needs the Hugging Face hub for facebook/opt-350m (not cached "
        f"locally): {closed} is unreachable*"])
    assert "llmbench summary" not in result.stdout.str()  # nothing was measured
