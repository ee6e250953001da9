"""The A/B detection study's own machinery (the study itself runs on a quiet machine)."""

import os
import subprocess

from llmbench.tools.ab_study import (
    injected_commit,
    simulate,
    simulation_markdown,
    summarize,
    to_markdown,
)


def git(repo, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_the_candidate_is_a_throwaway_commit_that_only_adds_the_injection(tmp_path,
                                                                          monkeypatch):
    (tmp_path / "conftest.py").write_text("# the project's own conftest\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD")
    monkeypatch.chdir(tmp_path)
    commit = injected_commit("main", 0.1, how="wait")
    assert git(tmp_path, "rev-parse", "ab-study/slowdown-0.1") == commit
    assert git(tmp_path, "rev-parse", f"{commit}^") == base
    assert git(tmp_path, "diff", "--name-only", base, commit) == "conftest.py"
    conftest = git(tmp_path, "show", f"{commit}:conftest.py")
    assert conftest.startswith("# the project's own conftest")
    assert 'pytest_plugins = ["llmbench.tools.inject"]' in conftest
    assert "config.option.inject_slowdown = 0.1" in conftest
    assert "config.option.inject_how = 'wait'" in conftest
    # nothing checked out moved: the base branch and the working tree are as they were
    assert git(tmp_path, "rev-parse", "main") == base and git(tmp_path, "status", "--short") == ""


def run(exit_code, outcome, decided_s, seed=1):
    return {"exit": exit_code, "wall_s": 60.0, "seed": seed, "error": "",
            "benchmarks": [{"id": "lora_ranks/lora_rank/r8", "outcome": outcome, "reason": "",
                            "rounds": 12, "wall_s": 40.0, "decided_after_s": decided_s,
                            "stopped_by": "decided",
                            "metrics": {"runtime_s": {"verdict": outcome, "decided": True,
                                                      "b_vs_a": "B vs A: +9.8% [+6%, +14%]"}}}]}


def test_a_cell_counts_detections_errors_and_time_to_decision():
    row = summarize("duet", 0.1, [run(1, "regressed", 30.0), run(1, "regressed", 50.0),
                                  run(0, "unconfirmed", None), run(2, "error", None)], 300.0)
    assert (row["failed_runs"], row["error_runs"], row["unconfirmed_runs"]) == (2, 1, 1)
    assert row["median_decided_s"] == 40.0 and row["decided"] == 2
    table = to_markdown([row], "lora_rank and r8", "smoke", "python -m llmbench.tools.ab_study")
    assert "| duet | +10% | 2/4 | 1 | 1 | 12 | 60 | 40 | 2/4 |" in table
    assert "runtime_s +9.8% [+6%, +14%] (regressed)" in table


def test_the_simulated_stopping_rule_catches_ten_percent_and_passes_a_equals_b():
    # calm rounds (1 % spread): A = B is decided a pass, +10 % regresses, at the first look
    rows = simulate([0.01], [0.0, 0.1], sequences=5, spike_share=0.0)
    same, slower = rows
    assert (same["regressed"], same["decided_pass"], same["mean_rounds"]) == (0.0, 1.0, 10)
    assert (slower["regressed"], slower["decided_pass"]) == (1.0, 0.0)
    assert "| 1% | +10% | 100.0% | 0% | 10 |" in simulation_markdown(rows)


def test_added_runs_continue_the_seeds_of_a_cell(monkeypatch):
    """--first-seed 6 --runs 5 measures seeds 6-10: runs added to a cell do not repeat its seeds."""
    from llmbench.tools import ab_study

    seeds = []
    monkeypatch.setattr(ab_study, "_git", lambda *args, **kwargs: "base-commit")
    monkeypatch.setattr(ab_study, "one_ab", lambda base, candidate, select, profile, seed, *rest:
                        seeds.append(seed) or run(0, "pass", 10.0))
    ab_study.main(["-k", "r8", "--sizes", "0", "--schedules", "duet", "--runs", "5",
                   "--first-seed", "6"])
    assert seeds == [6, 7, 8, 9, 10]
