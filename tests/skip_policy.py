"""In CI a skip is a failure unless it is expected (issue 36).

With the environment variable ``CI`` set (GitHub Actions sets it, ``.ci/run`` exports it), a test
or a module that skips for a reason no entry of ``expected_skips.EXPECTED_SKIPS`` allows fails
instead, saying so: a skip in CI hides the very thing CI is there to run. Without ``CI`` a skip
stays a skip. Either way the run ends with a skip summary: every skip, its reason, and the
declared entry that allows it.

Loaded by ``tests/conftest.py``: a pytest plugin of this test suite, not of the product.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import expected_skips
import pytest

PROVIDES_VARIABLE = "LLMBENCH_CI_PROVIDES"
UNEXPECTED = "unexpected skip in CI"
Report = pytest.CollectReport | pytest.TestReport


@dataclass(frozen=True)
class Skip:
    nodeid: str
    reason: str
    allowed_by: expected_skips.ExpectedSkip | None


def policy_on() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def provided() -> set[str]:
    """Entries revoked by ``LLMBENCH_CI_PROVIDES``: this job provides their thing."""
    names = set(re.split(r"[\s,]+", os.environ.get(PROVIDES_VARIABLE, "").strip())) - {""}
    unknown = names - {entry.name for entry in expected_skips.EXPECTED_SKIPS}
    if unknown:
        raise pytest.UsageError(f"{PROVIDES_VARIABLE} names {', '.join(sorted(unknown))}, which "
                                "tests/expected_skips.py does not declare")
    return names


def allowing_entry(reason: str, revoked: set[str]) -> expected_skips.ExpectedSkip | None:
    return next((entry for entry in expected_skips.EXPECTED_SKIPS
                 if entry.name not in revoked and entry.allows(reason)), None)


def skip_reason(report: Report) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def is_skip(report: Report) -> bool:
    return report.skipped and not hasattr(report, "wasxfail")  # an xfail reports as skipped


class SkipPolicy:
    def __init__(self, on: bool, revoked: set[str]) -> None:
        self.on = on
        self.revoked = revoked
        self.skips: list[Skip] = []

    def judge(self, report: Report) -> None:
        """Under the policy, turn a skip that no entry allows into a failure that says so."""
        if not (self.on and is_skip(report)):
            return
        reason = skip_reason(report)
        if allowing_entry(reason, self.revoked) is None:
            report.outcome = "failed"
            report.longrepr = (
                f"{UNEXPECTED}: {reason}\n"
                "CI installs what these tests need, so this skip would hide a broken install or "
                "a broken product. Make the test run or, if CI cannot provide what it needs, "
                "declare the reason in tests/expected_skips.py with why.")

    def record(self, report: Report) -> None:
        """Keep every skip for the summary, those the policy failed included. Recorded as the
        reports are logged, so that the skips of xdist's workers reach it too."""
        if is_skip(report):
            reason = skip_reason(report)
            self.skips.append(Skip(report.nodeid, reason, allowing_entry(reason, self.revoked)))
        elif report.failed and str(report.longrepr).startswith(f"{UNEXPECTED}: "):
            reason = str(report.longrepr).split("\n", 1)[0].removeprefix(f"{UNEXPECTED}: ")
            self.skips.append(Skip(report.nodeid, reason, None))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = yield
        self.judge(report)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        report = yield
        self.judge(report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.record(report)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.skips and not self.on:
            return
        write = terminalreporter.write_line
        policy = "on: CI is set" if self.on else "off: CI is not set"
        terminalreporter.write_sep("=", f"skip summary: {len(self.skips)} skip(s), "
                                        f"policy {policy}")
        if self.revoked:
            write(f"{PROVIDES_VARIABLE}: this job provides {', '.join(sorted(self.revoked))}, "
                  "so those skips fail")
        for entry in expected_skips.EXPECTED_SKIPS:
            allowed = [skip for skip in self.skips if skip.allowed_by == entry]
            if allowed:
                write(f"expected [{entry.name}] x{len(allowed)}: {entry.why}")
                for skip in allowed:
                    write(f"    {skip.nodeid}: {skip.reason}")
        unexpected = [skip for skip in self.skips if skip.allowed_by is None]
        if unexpected:
            verdict = "failed" if self.on else "skipped; in CI they fail"
            write(f"allowed by no entry of tests/expected_skips.py ({verdict}) x{len(unexpected)}:",
                  red=self.on, yellow=not self.on)
            for skip in unexpected:
                write(f"    {skip.nodeid}: {skip.reason}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipPolicy(policy_on(), provided()), "llmbench-skip-policy")
