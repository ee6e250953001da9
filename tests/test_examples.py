"""The shipped examples: the course's experiments and bring-your-own data, as project profiles."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

# In-process pytester runs snapshot sys.modules; what the benchmark modules import comes first.
import torch  # noqa: F401

import llmbench.suites.lora.runner  # noqa: F401
import llmbench.suites.quant  # noqa: F401
import llmbench.suites.rag.pipeline  # noqa: F401
from llmbench.profiles import PROFILES, project_registry
from llmbench.sources import hub
from llmbench.suites.rag.pipeline import load_data

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def settings(profile):
    return profile.lora, profile.quant, profile.rag


def test_course_profiles_are_the_same_in_pyproject_and_llmbench_toml():
    in_pyproject = project_registry(EXAMPLES / "course")
    standalone = project_registry(EXAMPLES / "course-standalone")
    for name in ("course-lora", "course-rag"):
        assert settings(in_pyproject.get(name)) == settings(standalone.get(name))
        assert in_pyproject.get(name).description == standalone.get(name).description


def test_course_lora_study_is_opt_350m_on_half_of_codealpaca():
    profile = project_registry(EXAMPLES / "course").get("course-lora")
    lora = profile.lora
    assert (lora.model, lora.dataset, lora.dataset_fraction) == (
        "facebook/opt-350m", "sahil2801/CodeAlpaca-20k", 0.5)
    assert lora.ranks == (8, 128, 256) and lora.alpha_per_rank == 4
    assert lora.target_modules == ("q_proj", "k_proj", "v_proj") and lora.lora_dropout == 0.1
    assert lora == PROFILES["opt-350m"].lora  # the built-in profile is the same study
    assert profile.hub_sources("lora") == ("facebook/opt-350m", "sahil2801/CodeAlpaca-20k")


def test_course_rag_table_is_three_openai_generators_by_four_retrievers():
    rag = project_registry(EXAMPLES / "course").get("course-rag").rag
    assert rag.generators == ("openai:gpt-4.1-nano", "openai:gpt-4o-mini", "openai:gpt-4o")
    assert rag.retrievers == ("dense", "bm25", "ensemble", "multi-query")
    assert rag.judge == "openai:o3-mini"


def test_own_data_example_reads_its_files_relative_to_the_profile():
    profile = project_registry(EXAMPLES / "own-data").get("own-data")
    assert profile.rag.corpus == str(EXAMPLES / "own-data" / "docs")
    corpus, items = load_data(profile.rag)
    assert len(corpus.passages) == 4 and len(items) == 4
    # ground_truth is the reference; contexts name documents or quote them
    assert items[1].reference == "Students pay 20 euros a year."
    assert [item.doc_ids for item in items] == [("opening-hours",), ("membership",), ("safety",),
                                                ("laser-cutter",)]


@pytest.fixture
def no_hub_no_key(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "hub_cache", lambda: tmp_path / "empty-hub-cache")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", closed)
    return closed


def test_course_examples_skip_with_the_reason_without_hub_or_key(pytester, no_hub_no_key):
    pytester.makefile(".toml", pyproject=(EXAMPLES / "course" / "pyproject.toml").read_text())
    for module in ("test_lora_ranks", "test_rag"):
        pytester.makepyfile(**{module: (ROOT / "benchmarks" / f"{module}.py").read_text()})
    lora = pytester.runpytest("--bench-profile", "course-lora", "-m", "not gpu", "-rs",
                              "test_lora_ranks.py")
    lora.assert_outcomes(skipped=3)
    lora.stdout.fnmatch_lines([
        "*profile 'course-lora' needs the Hugging Face hub for facebook/opt-350m, "
        f"sahil2801/CodeAlpaca-20k (not cached locally): {no_hub_no_key} is unreachable*"])
    rag = pytester.runpytest("--bench-profile", "course-rag", "-m", "not gpu", "-rs",
                             "-k", "not retrieval_latency and not retrieval_quality",
                             "test_rag.py")
    rag.assert_outcomes(skipped=12)  # 3 generators x 4 retrievers, on the CPU
    rag.stdout.fnmatch_lines(["*judge openai:o3-mini: no endpoint configured: set OPENAI_API*"])
    assert "openai-gpt-4.1-nano+multi-query" in pytester.runpytest(
        "--bench-profile", "course-rag", "--collect-only", "-q", "test_rag.py").stdout.str()


def test_documented_example_profile_is_valid(tmp_path):
    readme = (ROOT / "docs" / "options.md").read_text()
    section = readme.split("## Your own matrix", 1)[1]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text(toml)
    profile = project_registry(tmp_path).get("mine")
    assert profile.lora.ranks == (4, 16, 64) and profile.quant.precisions == ("bf16", "nf4")
    assert profile.rag.qa == str(tmp_path / "qa.jsonl")


@pytest.mark.parametrize(("example", "profile"), [("course", "course-rag"),
                                                  ("course-standalone", "course-rag"),
                                                  ("own-data", "own-data")])
def test_each_example_folder_is_its_own_pytest_project(example, profile):
    folder = EXAMPLES / example
    assert (folder / "benchmarks").resolve() == ROOT / "benchmarks"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--bench-profile", profile, "benchmarks/test_rag.py"],
        cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert ids and all(line.startswith("benchmarks/test_rag.py::test_") for line in ids)
