"""Remote endpoints in a pytest run: options checked at startup, a deadline per benchmark.

``configure(config)`` (called from ``pytest_configure``) validates ``--judge`` and
``--remote-deadline`` (``ValueError`` naming the valid choices, which the plugin turns into a
usage error, exit 4) and registers the hooks below:

* every test runs under its own ``llmbench.core.remote.remote_deadline(--remote-deadline)``: an
  endpoint silent that long fails the benchmark with "endpoint … did not answer within …";
* an endpoint that cannot be connected to (``EndpointGone``: never up, or it died mid-run) ends
  that benchmark with the outcome ``error``, the URL and the error in its row, at once;
* ``--require-network``: selected benchmarks marked ``network`` whose endpoint has no key or URL
  are a usage error instead of a skip (as ``-m gpu`` is for CUDA), and so is ``--langsmith``
  without ``LANGSMITH_API_KEY``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from llmbench.core.remote import Deadline, EndpointGone, openai_settings, remote_deadline

NETWORK_MARK = "network"


def configure(config: pytest.Config) -> None:
    """Validate the endpoint options (``ValueError``) and register the hooks of this module.
    Generator specs need no check here: ``configure_profiles`` runs first, and every profile and
    ``--rag-generators`` value is checked as it is built (``core.specs.generator_spec_problem``)."""
    from llmbench.judges.openevals_judge import validate_judge_spec

    Deadline(config.getoption("remote_deadline"))  # raises on <= 0
    if config.getoption("judge") is not None:
        validate_judge_spec(config.getoption("judge"))
    if config.getoption("require_network") and config.getoption("langsmith") and not (
            os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY")):
        raise ValueError("--require-network with --langsmith: LANGSMITH_API_KEY is not set")
    config.pluginmanager.register(sys.modules[__name__], "llmbench-remote")


def network_problem() -> str | None:
    """Why ``openai:`` generators and judges cannot reach an endpoint here, or None."""
    try:
        openai_settings()
    except LookupError as exc:
        return str(exc)
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("require_network"):
        return
    network = [item for item in items if item.get_closest_marker(NETWORK_MARK)]
    problem = network_problem() if network else None
    if problem:
        raise pytest.UsageError(
            f"--require-network: {len(network)} selected benchmark(s) need a network endpoint "
            f"but there is {problem}; or run without --require-network to skip them.")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with remote_deadline(item.config.getoption("remote_deadline")):
        try:
            return (yield)
        except EndpointGone as exc:
            from llmbench.pytest_plugin.check import RegressionCheck
            from llmbench.regression.verdicts import Outcome

            checker = getattr(item, "funcargs", {}).get("regression")
            if isinstance(checker, RegressionCheck):
                checker.conclude_unfinished(Outcome.ERROR, str(exc))
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
