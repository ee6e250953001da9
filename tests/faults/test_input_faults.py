"""Bad input, checked before anything runs or named precisely when met: each scenario of the
docs/failure-modes.md table that concerns options, baseline files and data files."""

from __future__ import annotations

import json

import pytest
import torch  # noqa: F401  (imported before pytester's sys.modules snapshot)

BENCH = """
from llmbench.regression.results import Result, quality

def test_fake(bench_profile, regression):
    regression.check(Result("lora", {"steps": bench_profile.lora.steps},
                            {"loss": quality(1.0, kind="loss")}))
"""


@pytest.fixture
def bench(pytester):
    pytester.makepyfile(test_bench=BENCH)
    return pytester


def usage_error(pytester, *args) -> str:
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    return result.stderr.str()


@pytest.mark.parametrize(("args", "message"), [
    (("--bench-profile", "nope"), "unknown profile 'nope'"),
    (("--bench-steps", "0"), "--bench-steps must be >= 1"),
    (("--bench-repeats", "0"), "--bench-repeats must be 'auto' or >= 1"),
    (("--bench-repeats", "many"), "--bench-repeats must be 'auto' or an integer"),
    (("--calibrate", "--bench-repeats", "2"), "--calibrate needs --bench-repeats >= 3"),
    (("--bench-alpha", "1.5"), "--bench-alpha must be in (0, 1)"),
    (("--bench-confirm", "-1"), "--bench-confirm must be >= 0"),
    (("--judge-repeats", "0"), "--judge-repeats must be >= 1"),
    (("--hardware-key", " "), "--hardware-key must not be empty"),
    (("--rag-qa", "no/such/qa.jsonl"), "--rag-qa no/such/qa.jsonl: no such file"),
    (("--rag-corpus", "no/such/dir"), "--rag-corpus no/such/dir: no such directory"),
])
def test_bad_options_are_usage_errors_before_anything_runs(bench, args, message):
    assert message in usage_error(bench, "--bench-profile", "smoke", *args) or \
        message in usage_error(bench, *args)


def test_gpu_selected_without_cuda_is_a_usage_error(pytester):
    pytester.makepyfile(test_gpu="""
        def test_x(bench_device, regression):
            pass
    """)
    assert "CUDA is not usable" in usage_error(pytester, "-m", "gpu")


def test_missing_baseline_is_new_and_prints_the_command(bench):
    result = bench.runpytest("--bench-profile", "smoke")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*new, no baseline file*", "*--update-baselines*"])


@pytest.mark.parametrize(("content", "problem"), [
    ("{broken", "invalid JSON at line 1 column 2"),
    (json.dumps({"schema_version": 99}), "schema_version is 99"),
    (json.dumps({"schema_version": 3, "benchmark_id": "b", "config_hash": "h", "params": {},
                 "quality": {"cpu": {"metrics": {"loss": {"value": None}}}}}),
     "quality.cpu.metrics.loss.value' must be a finite number"),
])
def test_a_corrupt_or_foreign_baseline_is_an_error_naming_file_and_problem(bench, content,
                                                                            problem):
    path = bench.path / "baselines" / "smoke" / "bench" / "fake" / "default.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    result = bench.runpytest("--bench-profile", "smoke")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*baseline file {path}*"])
    assert problem in result.stdout.str()
    report = json.loads((bench.path / ".llmbench" / "results.json").read_text())
    assert report["benchmarks"][0]["outcome"] == "error"


def test_bad_qa_lines_are_all_reported_with_file_and_line(tmp_path):
    from llmbench.suites.rag.data import RagDataError, load_qa

    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "q1", "reference": "a1"}\n{oops\n'
                    '{"question": "", "reference": "a3"}\n[1, 2]\n')
    with pytest.raises(RagDataError) as error:
        load_qa(path)
    message = str(error.value)
    assert "3 bad line(s)" in message
    for line in (2, 3, 4):
        assert f"{path}:{line}:" in message


def test_bad_dataset_lines_are_all_reported_with_file_and_line(tmp_path):
    from llmbench.sources.data import DatasetFormatError, read_jsonl

    path = tmp_path / "train.jsonl"
    path.write_text('{"instruction": "x"}\nnot json\n')
    with pytest.raises(DatasetFormatError) as error:
        read_jsonl(path)
    assert f"{path}:1:" in str(error.value) and f"{path}:2:" in str(error.value)
