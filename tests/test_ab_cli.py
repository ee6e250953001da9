"""``llmbench ab`` end to end: a tiny git repository whose fake benchmarks report fixed values
(so the verdicts do not depend on this machine's speed), two refs or two interpreters, real
worker processes. Each A/B here takes a few seconds: workers start pytest and import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmbench.cli import main

# The fake benchmarks: what a commit changes is FACTOR (its runtime), CRASH and CASES.
BENCH = '''
import pytest
from llmbench.regression.results import Result, cost, quality

FACTOR = 1.0
CRASH = False
HANG = False
CASES = ["one"]


def run(seed):
    if CRASH:
        raise RuntimeError("the candidate crashed")
    if HANG:
        import time
        time.sleep(600)
    return Result("fake", {"size": 1}, {
        "runtime_s": cost(0.2 * FACTOR, "s", kind="time"),
        "loss": quality(1.25, "nats", determinism="seeded", kind="loss")})


@pytest.mark.parametrize("case", CASES)
def test_fake(case, regression):
    regression.measure(run, seed=0)


def test_needs_a_device(regression):
    pytest.skip("needs a device this runner lacks")
'''
# A benchmark that measures itself once per test (regression.check): cold rounds only.
SELF_TIMED = '''
from llmbench.regression.results import Result, cost


def test_self_timed(regression):
    regression.check(Result("fake", {"size": 2}, {"latency_s": cost(0.1, "s", kind="time")}))
'''
# Few rounds: alpha 0.05 needs five for an interval, and the values never vary.
QUICK = ["--alpha", "0.05", "--min-rounds", "5", "--max-rounds", "5", "--warmup", "0"]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, message: str, **changes: str) -> None:
    path = repo / "benchmarks" / "test_fake.py"
    text = path.read_text()
    for name, value in changes.items():
        text = text.replace(f"\n{name} = ", f"\n{name} = {value}  # was: ", 1)
    path.write_text(text)
    git(repo, "commit", "-qam", message)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """base; then +50 % runtime on main, and beside it ``broken`` (crashes, one more case)
    and ``hangs`` (a round that never ends)."""
    repo = tmp_path / "project"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "conftest.py").write_text("")
    (repo / "benchmarks" / "test_fake.py").write_text(BENCH)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "branch", "base")
    commit(repo, "50 % slower", FACTOR="1.5")
    git(repo, "checkout", "-q", "-b", "broken", "base")
    commit(repo, "crashes, one more case", CRASH="True", CASES='["one", "two"]')
    git(repo, "checkout", "-q", "-b", "hangs", "base")
    commit(repo, "never answers", HANG="True")
    git(repo, "checkout", "-q", "main")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return repo


def ab(tmp_path, base: str, candidate: str, *options: str,
       pytest_args: tuple[str, ...] = ()) -> tuple[int, dict]:
    report = tmp_path / "report"
    code = main(["ab", base, candidate, *QUICK, *options, "--report", str(report),
                 "--history", str(tmp_path / "history.sqlite"), "--seed", "7", "--",
                 *pytest_args])
    results = report / "results.json"
    return code, json.loads(results.read_text()) if results.exists() else {}


def by_id(document: dict) -> dict[str, dict]:
    return {b["benchmark_id"] or b["nodeid"]: b for b in document["benchmarks"]}


def test_a_slower_ref_regresses_with_exit_1(repo, tmp_path, capsys):
    code, doc = ab(tmp_path, "base", "main")
    assert code == 1 and doc["exit_code"] == 1 and doc["kind"] == "ab"
    fake = by_id(doc)["fake/fake/one"]
    assert fake["outcome"] == "regressed" and fake["rounds"] == 5
    runtime = fake["comparison"]["runtime_s"]
    assert runtime["verdict"] == "regressed"
    assert runtime["b_vs_a"] == "B vs A: +50.0% [+50.0%, +50.0%]"
    assert fake["comparison"]["loss"]["verdict"] == "pass"  # seeded, same platform: exact
    assert fake["a"]["metrics"]["runtime_s"]["samples"] == [0.2] * 5
    # both skipped a benchmark: unavailable, not an error
    assert by_id(doc)["benchmarks/test_fake.py::test_needs_a_device"]["outcome"] == \
        "unavailable"
    assert doc["sides"]["A"]["commit"] == git(repo, "rev-parse", "base")
    out = capsys.readouterr().out
    assert "B vs A: +50.0% [+50.0%, +50.0%]" in out and "exit 1" in out
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| runtime_s |" in summary and "❌ regressed" in summary
    # not a run of the plugin: `llmbench report` says so instead of misreading it
    assert main(["report", str(tmp_path / "report" / "results.json")]) == 2
    # the temporary worktrees are gone
    assert git(repo, "worktree", "list").count("\n") == 0
    # the history holds it as an A/B run, not as a night of any series
    from llmbench.history import HistoryStore

    with HistoryStore(str(tmp_path / "history.sqlite")) as store:
        [run] = store.ab_runs()
        assert (run["base"], run["candidate"], run["exit_code"]) == ("base", "main", 1)
        rows = {r["metric"]: r for r in store.ab_measurement_rows(run["run_id"])}
        assert rows["runtime_s"]["change"] == pytest.approx(0.5)
        assert store.count() == 0 and store.runs() == []
    capsys.readouterr()
    assert main(["history", "ab", "--history", str(tmp_path / "history.sqlite")]) == 0
    listed = capsys.readouterr().out
    assert "base @" in listed and "one runtime_s +50.0% regressed" in listed


def test_the_same_ref_twice_passes_with_exit_0(repo, tmp_path):
    code, doc = ab(tmp_path, "base", "base", "--schedule", "interleaved")
    fake = by_id(doc)["fake/fake/one"]
    assert code == 0 and fake["outcome"] == "pass" and fake["decided_after_rounds"] == 5
    assert {p["order"] for p in fake["plays"]} <= {"AB", "BA"}


def test_a_crash_and_a_one_sided_benchmark_are_errors_never_a_pass(repo, tmp_path):
    code, doc = ab(tmp_path, "base", "broken")
    benchmarks = by_id(doc)
    assert code == 2
    assert benchmarks["fake/fake/one"]["outcome"] == "error"
    assert "side B crashed: RuntimeError: the candidate crashed" in \
        benchmarks["fake/fake/one"]["reason"]
    two = benchmarks["benchmarks/test_fake.py::test_fake[two]"]
    assert two["outcome"] == "error" and "present on side B only" in two["reason"]
    assert doc["errors"] == [doc["errors"][0]] and "no benchmark was compared" in doc["errors"][0]


def test_a_side_that_stops_answering_is_lost_and_an_error(repo, tmp_path):
    code, doc = ab(tmp_path, "base", "hangs", "--timeout", "10")
    assert code == 2
    assert "side B gave no answer for 10 s" in by_id(doc)["fake/fake/one"]["reason"]
    assert any("gave no answer" in error for error in doc["errors"])


def test_two_interpreters_on_the_current_checkout(repo, tmp_path):
    wrapper = tmp_path / "other-python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    (repo / "benchmarks" / "test_self_timed.py").write_text(SELF_TIMED)
    # two rounds (alpha 0.25): a cold round starts two fresh processes
    code, doc = ab(tmp_path, f"python:{wrapper}", f"python:{sys.executable}", "--alpha",
                   "0.25", "--min-rounds", "2", "--max-rounds", "2",
                   pytest_args=("-k", "one or self_timed"))
    benchmarks = by_id(doc)
    assert code == 0, doc
    assert doc["sides"]["A"]["kind"] == "python" and doc["sides"]["A"]["python"] == str(wrapper)
    assert benchmarks["fake/fake/one"]["outcome"] == "pass"  # uncommitted FACTOR of main: 1.5
    # a test that measures itself gets a fresh pair of processes for every round
    timed = benchmarks["self_timed/self_timed/default"]
    assert timed["outcome"] == "pass" and timed["rounds"] == 2


@pytest.mark.parametrize("side, says", [
    ("no-such-ref", "is not a commit, branch or tag"),
    ("python:/no/such/python", "is not an executable interpreter"),
])
def test_a_side_that_does_not_exist_is_a_setup_error(repo, tmp_path, capsys, side, says):
    code, doc = ab(tmp_path, "base", side)
    assert code == 2 and doc == {}
    assert says in capsys.readouterr().err


def test_a_side_that_cannot_import_llmbench_is_a_setup_error(repo, tmp_path, capsys):
    broken = tmp_path / "broken-python"
    broken.write_text('#!/bin/sh\necho "ModuleNotFoundError: No module named pytest" >&2\n'
                      'exit 1\n')
    broken.chmod(0o755)
    code, _ = ab(tmp_path, "base", f"python:{broken}")
    assert code == 2
    assert "cannot run: ModuleNotFoundError" in capsys.readouterr().err


def test_a_ref_outside_a_repository_is_a_setup_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _ = ab(tmp_path, "main", "HEAD")
    assert code == 2 and "not in a git repository" in capsys.readouterr().err


def test_too_few_rounds_for_the_alpha_is_a_usage_error(repo, tmp_path, capsys):
    code = main(["ab", "base", "main", "--max-rounds", "4", "--no-history"])
    assert code == 2 and "--max-rounds 4" in capsys.readouterr().err


def test_pytest_arguments_follow_the_double_dash():
    from llmbench.cli_ab import split_pytest_args, with_benchmarks_path

    assert split_pytest_args(["ab", "a", "b", "--cold", "--", "-k", "x", "--", "y"]) == (
        ["ab", "a", "b", "--cold"], ["-k", "x", "--", "y"])
    assert with_benchmarks_path(["-k", "lora_rank and r8"]) == ["benchmarks", "-k",
                                                                "lora_rank and r8"]
    assert with_benchmarks_path(["tests", "-q"]) == ["tests", "-q"]  # names an existing path
