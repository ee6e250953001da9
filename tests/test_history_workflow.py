"""The nightly GPU workflow appends to the history, checks change points, keeps the dashboard."""

import re

from test_workflows import load, pytest_commands, steps, uses


def step(wf, name):
    return next(s for s in steps(wf) if s.get("name") == name)


def test_nightly_appends_checks_changes_and_uploads_the_dashboard():
    wf = load("nightly-gpu.yml")
    names = [s.get("name") for s in steps(wf)]
    choose = step(wf, "Choose the result history")
    assert names.index("Choose the result history") < names.index("GPU benchmarks")
    assert "vars.LLMBENCH_HISTORY" in choose["env"]["HISTORY"]
    assert "secrets.LLMBENCH_HISTORY_URL" in choose["env"]["HISTORY"]
    assert 'LLMBENCH_HISTORY=${HISTORY:-$HOME/' in choose["run"] and "GITHUB_ENV" in choose["run"]
    [command] = pytest_commands(wf)
    assert "--no-bench-history" not in command  # the plugin appends
    changes = step(wf, "Change points in the history")
    assert changes["if"] == "always()"
    assert "llmbench history changes" in changes["run"] and 'exit "$rc"' in changes["run"]
    dashboard = step(wf, "History dashboard")
    assert dashboard["if"] == "always()"
    out = re.search(r"llmbench history html (\S+)", dashboard["run"]).group(1)
    report_dir = re.search(r"--bench-report (\S+)", command).group(1)
    upload = uses(wf)["actions/upload-artifact"]
    assert out.startswith(report_dir.rstrip("/") + "/")  # inside the uploaded report
    assert upload["with"]["path"].rstrip("/") == report_dir
    assert names.index("History dashboard") < names.index("Upload report")
