"""The skip policy (tests/skip_policy.py): in CI a skip fails unless it is declared, and every
run lists its skips with the declared reason. Inner pytest sessions load the plugin with ``-p``
against a made-up list of expected skips."""

from __future__ import annotations

import ast
from pathlib import Path

import expected_skips
import pytest
from expected_skips import EXPECTED_SKIPS, ExpectedSkip

TESTS = Path(__file__).resolve().parent

INNER = """
import pytest

def test_runs():
    pass

def test_without_a_gpu():
    pytest.skip("no GPU here: the runner has none")

@pytest.mark.skipif(True, reason="no GPU here either")
def test_marked_for_a_gpu():
    pass

def test_without_postgres():
    pytest.skip("PostgreSQL did not start: port in use")

@pytest.mark.xfail(reason="a known bug")
def test_known_bug():
    assert False
"""


@pytest.fixture
def inner(pytester, monkeypatch):
    monkeypatch.setattr(expected_skips, "EXPECTED_SKIPS", (
        ExpectedSkip("no-gpu", r"no GPU here", "the runners have no GPU"),))
    for name in ("CI", "LLMBENCH_CI_PROVIDES"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_inner=INNER)
    return pytester


def run(pytester):
    return pytester.runpytest("-p", "skip_policy", "-p", "no:cacheprovider")


def test_in_ci_an_undeclared_skip_fails_and_a_declared_one_stays_a_skip(inner, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(inner)
    result.assert_outcomes(passed=1, skipped=2, failed=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*test_without_postgres*",
        "unexpected skip in CI: PostgreSQL did not start: port in use",
        "*declare the reason in tests/expected_skips.py with why*",
    ])
    result.stdout.fnmatch_lines([
        "*skip summary: 3 skip(s), policy on: CI is set*",
        "expected [[]no-gpu[]] x2: the runners have no GPU",
        "    test_inner.py::test_without_a_gpu: no GPU here: the runner has none",
        "    test_inner.py::test_marked_for_a_gpu: no GPU here either",
        "allowed by no entry of tests/expected_skips.py (failed) x1:",
        "    test_inner.py::test_without_postgres: PostgreSQL did not start: port in use",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_outside_ci_every_skip_stays_a_skip_and_is_listed(inner, monkeypatch, ci):
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    result = run(inner)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    result.stdout.fnmatch_lines([
        "*skip summary: 3 skip(s), policy off: CI is not set*",
        "allowed by no entry of tests/expected_skips.py (skipped; in CI they fail) x1:",
        "    test_inner.py::test_without_postgres: PostgreSQL did not start: port in use",
    ])
    assert result.ret == pytest.ExitCode.OK


def test_in_ci_a_module_that_skips_at_import_is_a_collection_error(inner, monkeypatch):
    monkeypatch.setenv("CI", "1")
    inner.makepyfile(test_needs_a_package="""
        import pytest
        pytest.importorskip("no_such_package_anywhere", reason="comes with llmbench[history]")

        def test_never_collected():
            pass
    """)
    result = run(inner)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting test_needs_a_package.py*",
        "unexpected skip in CI: comes with llmbench[[]history[]]",
    ])


def test_a_job_that_provides_a_thing_revokes_its_entry(inner, monkeypatch):
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("LLMBENCH_CI_PROVIDES", "no-gpu")
    result = run(inner)
    # a skip in setup (the skipif mark) fails there: an error; in the test's body, a failure
    result.assert_outcomes(passed=1, failed=2, errors=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "LLMBENCH_CI_PROVIDES: this job provides no-gpu, so those skips fail",
        "allowed by no entry of tests/expected_skips.py (failed) x3:",
    ])


def test_a_misspelt_provided_entry_stops_the_run(inner, monkeypatch):
    monkeypatch.setenv("LLMBENCH_CI_PROVIDES", "no-gpu, no-gpus")
    result = run(inner)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*LLMBENCH_CI_PROVIDES names no-gpus, which "
                                 "tests/expected_skips.py does not declare*"])


def test_without_skips_outside_ci_nothing_is_added_to_the_output(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile("def test_runs():\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "skip summary" not in result.stdout.str()


# --- the declared list -----------------------------------------------------------------------

def skip_reasons_written_in_tests() -> list[str]:
    """Every string constant of the test suite outside the policy's own files (adjacent literals
    are one constant)."""
    own = {"expected_skips.py", "skip_policy.py", Path(__file__).name}
    return [node.value for path in TESTS.rglob("*.py") if path.name not in own
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_every_expected_skip_says_why_and_is_still_used_by_a_test():
    names = [entry.name for entry in EXPECTED_SKIPS]
    assert len(names) == len(set(names))
    written = skip_reasons_written_in_tests()
    for entry in EXPECTED_SKIPS:
        assert len(entry.why.split()) >= 10, entry.name
        assert any(entry.allows(text) for text in written), (
            f"no test skips for {entry.name!r} any more: remove the entry")


def test_an_entry_matches_the_start_of_the_reason():
    entry = ExpectedSkip("x", r"root ignores", "why")
    assert entry.allows("root ignores directory permissions")
    assert not entry.allows("the tests say root ignores directory permissions")
