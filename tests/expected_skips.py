"""The skips CI expects: the one list the skip policy (``skip_policy.py``) reads.

In CI (``CI`` set) a skip whose reason matches no entry here fails its test. An entry names what
the machine lacks, the start of the skip reason it allows (a regular expression, matched from the
reason's first character), and why a CI run may lack it. Add one only for a thing CI cannot or
should not provide; anything CI installs (WordNet, PostgreSQL, Chromium, the model wheels, the
``all`` and ``dev`` extras) has no entry, so its absence fails the run.

A job that does provide an entry's thing revokes the entry by naming it in
``LLMBENCH_CI_PROVIDES`` (space or comma separated): the real-server workflow builds
llama-cpp-python and sets ``LLMBENCH_CI_PROVIDES=llama-cpp-server``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ExpectedSkip:
    name: str
    reason: str  # regular expression for the start of the skip reason
    why: str  # why a CI run may lack the thing

    def allows(self, reason: str) -> bool:
        return re.match(self.reason, reason) is not None


EXPECTED_SKIPS: tuple[ExpectedSkip, ...] = (
    ExpectedSkip(
        "llama-cpp-server",
        r"needs llama-cpp-python\[server\]",
        "llama-cpp-python builds llama.cpp from source for minutes, more than .ci/run and the "
        "pull-request job can spend; the real-server workflow (and tox -e real-server) installs "
        "it and runs tests/real_server with this entry revoked"),
    ExpectedSkip(
        "root-ignores-permissions",
        r"root ignores directory permissions",
        "CI runs as root (.ci/run on a fresh machine, containers), and root writes into a "
        "read-only directory; the GitHub workflows run as a normal user and run this test, and "
        "tests/faults/test_plugin_faults.py covers an unwritable baseline by patching the write"),
)
