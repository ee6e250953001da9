"""Options are checked before anything runs: a bad ``--judge``, generator spec or
``--remote-deadline`` is a usage error (exit 4) naming the valid choices; a network benchmark
without its key skips with the reason, or is an error under ``--require-network``."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

import llmbench.suites.rag.pipeline  # noqa: F401 -- imported here, not inside pytester's runs
from llmbench.judges.errors import UnknownJudgeError
from llmbench.judges.openevals_judge import validate_judge_spec
from llmbench.suites.rag.generators import UnknownGeneratorError, validate_generator_spec

ROOT = Path(__file__).resolve().parents[2]
RAG_BENCH = str(ROOT / "benchmarks" / "test_rag.py")
TRIVIAL = "def test_nothing():\n    pass\n"
USAGE_ERROR = 4


@pytest.fixture
def no_endpoint(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMBENCH_JUDGE_OPENAI_API_KEY",
                 "LLMBENCH_JUDGE_OPENAI_BASE_URL", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def run(pytester, *args):
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("spec", ["smollm2-135m", "none", "openai:gpt-4o-mini",
                                  "openai:my/local-model"])
def test_valid_judge_specs(spec):
    validate_judge_spec(spec)


@pytest.mark.parametrize("spec", ["nonsense", "openai:", "openai: ", "gpt-4o-mini", ""])
def test_invalid_judge_specs_name_the_choices(spec):
    with pytest.raises(UnknownJudgeError, match=r"use smollm2-135m .*openai:<model>.* or none"):
        validate_judge_spec(spec)


@pytest.mark.parametrize("spec", ["smollm2-135m", "hf:tiny-opt-random", "hf:./my-model",
                                  "openai:gpt-4o-mini"])
def test_valid_generator_specs(spec):
    validate_generator_spec(spec)


@pytest.mark.parametrize("spec,hint", [("gpt4", ""), ("tiny-opt-random", "hf:tiny-opt-random"),
                                       ("Qwen/Qwen2-0.5B", "hf:Qwen/Qwen2-0.5B"), ("hf:", ""),
                                       ("openai:", "")])
def test_invalid_generator_specs_name_the_forms(spec, hint):
    with pytest.raises(UnknownGeneratorError, match=r"valid: smollm2-135m, hf:<model id or "
                                                    r"path>, openai:<model>") as caught:
        validate_generator_spec(spec)
    assert hint in str(caught.value)


def test_an_unknown_judge_is_a_usage_error_before_anything_runs(pytester):
    pytester.makepyfile(test_x=TRIVIAL)
    result = run(pytester, "--judge", "nonsense")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: unknown judge 'nonsense' (--judge): use smollm2-135m*"
                                 "openai:<model>*none"])
    assert "collected" not in result.stdout.str()


def test_an_unknown_generator_is_a_usage_error(pytester):
    pytester.makepyfile(test_x=TRIVIAL)
    result = run(pytester, "--rag-generators", "gpt4")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *unknown generator 'gpt4'; valid: smollm2-135m, "
                                 "hf:<model id or path>, openai:<model>*"])


@pytest.mark.parametrize("seconds", ["0", "-5"])
def test_a_deadline_that_is_not_positive_is_a_usage_error(pytester, seconds):
    pytester.makepyfile(test_x=TRIVIAL)
    result = run(pytester, "--remote-deadline", seconds)
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --remote-deadline must be > 0 seconds*"])


def test_a_network_judge_without_its_key_skips_with_the_reason(pytester, no_endpoint):
    result = run(pytester, RAG_BENCH, "--bench-profile", "smoke", "--judge",
                 "openai:gpt-4o-mini", "-k", "test_rag and none and cpu", "-rs")
    assert result.ret == 0
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*judge openai:gpt-4o-mini: no endpoint configured: set "
                                 "OPENAI_API_KEY*OPENAI_BASE_URL*(or run with --judge none)*"])


def test_require_network_makes_a_missing_key_an_error(pytester, no_endpoint):
    result = run(pytester, RAG_BENCH, "--bench-profile", "smoke", "--judge",
                 "openai:gpt-4o-mini", "-k", "test_rag and none and cpu", "--require-network")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --require-network: 1 selected benchmark(s) need a "
                                 "network endpoint but *no endpoint configured*"])


def test_require_network_is_satisfied_by_a_server_of_your_own(pytester, no_endpoint,
                                                              monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    result = run(pytester, RAG_BENCH, "--bench-profile", "smoke", "--judge",
                 "openai:gpt-4o-mini", "-k", "test_rag and none and cpu", "--require-network",
                 "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*test_rag*smollm2-135m+none-cpu*"])


def test_require_network_ignores_benchmarks_that_need_no_network(pytester, no_endpoint):
    pytester.makepyfile(test_x=TRIVIAL)
    assert run(pytester, "--require-network").ret == 0


def test_langsmith_without_its_key_under_require_network_is_an_error(pytester, no_endpoint):
    pytester.makepyfile(test_x=TRIVIAL)
    result = run(pytester, "--langsmith", "--require-network")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --require-network with --langsmith: LANGSMITH_API_KEY "
                                 "is not set"])


def test_the_nightly_job_can_require_the_network():
    workflow = YAML(typ="safe").load(
        (ROOT / ".github" / "workflows" / "nightly-gpu.yml").read_text())
    [step] = [s for job in workflow["jobs"].values() for s in job["steps"]
              if "pytest benchmarks" in s.get("run", "")]
    assert "vars.LLMBENCH_REQUIRE_NETWORK == '1' && '--require-network'" in step["run"]
    assert step["env"]["OPENAI_API_KEY"] == "${{ secrets.OPENAI_API_KEY }}"
