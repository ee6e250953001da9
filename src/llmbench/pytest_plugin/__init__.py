"""The pytest plugin: hooks and fixtures. The only pytest-aware code in llmbench.

* ``options`` -- the ``llmbench`` option group, its checks and the accept command;
* ``check`` -- the ``regression`` fixture: repeats, ``decide``, record, fail;
* ``session`` -- the run's records and the report written at the end;
* ``terminal`` -- the tables printed to the terminal;
* ``progress`` -- live progress lines of a running benchmark;
* ``gpu_workers`` -- one GPU per pytest process (each xdist worker its own);
* ``layout``, ``scheduling`` -- a CPU run spread over the cores, and which worker runs what;
* ``ab_worker`` -- this session as one side's worker of ``llmbench ab`` (``--ab-worker``).

May import every other layer (it sits on top, under ``cli`` and ``tools``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from llmbench.profiles import Profile
from llmbench.pytest_plugin import progress, remote, scheduling
from llmbench.pytest_plugin.ab_worker import RoundServer, WorkerHooks, add_worker_options
from llmbench.pytest_plugin.check import RegressionCheck, benchmark_id_for, record_for_error
from llmbench.pytest_plugin.options import GROUP, add_options, check_options
from llmbench.pytest_plugin.profiles import (
    apply_cpu_threads,
    collection_profiles,
    configure_profiles,
    resolve_profile,
    skip_suites_without_hub,
    skip_without_hub,
)
from llmbench.pytest_plugin.scheduling import judge_group
from llmbench.pytest_plugin.session import BenchSession, Record
from llmbench.pytest_plugin.terminal import summary_lines
from llmbench.regression import environment
from llmbench.regression.baselines import BaselineError
from llmbench.regression.verdicts import Outcome

MARKERS = {
    "gpu": "needs CUDA; `-m gpu` without CUDA is an error, otherwise skipped",
    "lora": "LoRA rank benchmarks",
    "quant": "quantization precision benchmarks",
    "rag": "RAG configuration benchmarks",
    "judge": "LLM-as-judge benchmarks",
    "network": "needs a network endpoint (API key); skipped without one",
    "slow": "takes minutes on CPU",
}
STATE_KEY = pytest.StashKey[BenchSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    # The result history (llmbench.history): --bench-history / --no-bench-history.
    from llmbench.pytest_plugin.history_hook import add_history_options

    add_history_options(parser)

    # Remote endpoints (openai: generators and judges): llmbench.pytest_plugin.remote
    group = parser.getgroup(GROUP)
    group.addoption("--remote-deadline", type=float, default=600.0, metavar="SECONDS",
                    help="fail a benchmark whose remote endpoints give no answer for this long, "
                         "retries included (default 600)")
    group.addoption("--require-network", action="store_true", default=False,
                    help="benchmarks that need a network endpoint are an error, not a skip, "
                         "when its key or URL is missing (as -m gpu is for CUDA)")

    # Judge quality: the labelled answers judges are measured on (benchmarks/test_judge_quality.py,
    # and the AUCs a RAG result records for its judge).
    group.addoption("--judge-pairs", default=None, metavar="FILE",
                    help="JSONL labelled answers (question, reference and any of right, wrong, "
                         "offtopic, evasive) to measure judges on, instead of the shipped set")
    add_worker_options(group)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Spread a CPU run of the benchmarks over the cores (``layout``), before xdist reads -n."""
    from llmbench.pytest_plugin.layout import spread

    try:
        configure_profiles(config)
        profile = resolve_profile(config, "cpu")
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    spread(config, profile.cpu_workers, gpu_reason=lambda: (
        "-m gpu" if _markexpr_selects_gpu(config.getoption("markexpr") or "")
        else None if cuda_problem() else "CUDA is available"))


def pytest_configure(config: pytest.Config) -> None:
    from llmbench.pytest_plugin.gpu_workers import assign_gpu

    try:
        # before anything initialises CUDA: one GPU per process (each xdist worker its own)
        assign_gpu(distributing=_is_xdist_controller(config))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    # langsmith's own pytest plugin tries to reach its API unless told not to.
    os.environ.setdefault("LANGSMITH_TEST_TRACKING", "false")
    try:
        check_options(config)
        configure_profiles(config)
        apply_cpu_threads(config)
        remote.configure(config)  # --judge, --remote-deadline, --require-network
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    environment.set_hardware_key(config.getoption("hardware_key"))
    state = config.stash[STATE_KEY] = BenchSession(config)
    try:
        state.rounds = RoundServer.from_config(config)
    except (ValueError, OSError) as exc:
        raise pytest.UsageError(f"--ab-worker: {exc}") from None
    if state.rounds is not None:
        config.pluginmanager.register(WorkerHooks(state.rounds), "llmbench-ab-worker")
    else:
        progress.install(config)
        scheduling.install(config, resolve_profile(config, "cpu").name)


def pytest_unconfigure(config: pytest.Config) -> None:
    environment.set_hardware_key(None)


# --- device parametrization and the `-m gpu` guard -------------------------------------------

def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_device" in metafunc.fixturenames:
        metafunc.parametrize("bench_device", [
            pytest.param("cpu", id="cpu"),
            pytest.param("cuda", id="cuda", marks=pytest.mark.gpu),
        ])


def _markexpr_selects_gpu(markexpr: str) -> bool:
    tokens = markexpr.replace("(", " ( ").replace(")", " ) ").split()
    return any(tok == "gpu" and (i == 0 or tokens[i - 1] != "not")
               for i, tok in enumerate(tokens))


def cuda_problem() -> str | None:
    """Why CUDA cannot be used, or None when it can."""
    try:
        import torch
    except ImportError as exc:
        return f"torch cannot be imported ({exc})"
    if not torch.cuda.is_available():
        build = torch.version.cuda or "a CPU-only build"
        return (f"torch {torch.__version__} ({build}) sees no CUDA device "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    problem = cuda_problem()
    if problem is None:
        return
    if _markexpr_selects_gpu(config.getoption("markexpr") or ""):
        raise pytest.UsageError(
            f"-m gpu selected {len(gpu_items)} GPU benchmark(s) but CUDA is not usable: "
            f"{problem}. Fix the GPU runner, or run without -m gpu for the CPU benchmarks.")
    skip = pytest.mark.skip(reason=f"needs CUDA (run with -m gpu on a GPU runner): {problem}")
    for item in gpu_items:
        item.add_marker(skip)


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def bench_device(request: pytest.FixtureRequest) -> str:
    """Parametrized by the plugin: ``cpu``, and ``cuda`` marked ``gpu``."""
    return request.param


@pytest.fixture
def bench_profile(request: pytest.FixtureRequest) -> Profile:
    device = (request.getfixturevalue("bench_device")
              if "bench_device" in request.fixturenames else "cpu")
    profile = resolve_profile(request.config, device)
    skip_suites_without_hub(request, profile)
    return profile


@pytest.fixture
def regression(request: pytest.FixtureRequest, bench_profile: Profile) -> RegressionCheck:
    device = (request.getfixturevalue("bench_device")
              if "bench_device" in request.fixturenames else "cpu")
    session = request.config.stash[STATE_KEY]
    try:
        return RegressionCheck(request, session, bench_profile, device)
    except BaselineError as exc:
        session.add(record_for_error(request, session, bench_profile, device, exc.path,
                                     str(exc)))
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A benchmark that stopped before its verdict still gets a row: a crash (NaN loss, OOM,
    a bug) is "failed", a skip inside the benchmark (precision unavailable, no API key) is
    "unavailable" with the reason."""
    report = yield
    checker = getattr(item, "funcargs", {}).get("regression")
    if call.when != "call" or not isinstance(checker, RegressionCheck) or checker.recorded:
        return report
    if report.failed:
        checker.conclude_unfinished(
            Outcome.FAILED, call.excinfo.exconly()[:2000] if call.excinfo else "failed")
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        checker.conclude_unfinished(Outcome.UNAVAILABLE, str(reason).removeprefix("Skipped: "))
    return report


# --- session end: xdist transport, results.json, terminal summary -----------------------------

def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Does this process hand the tests to xdist workers (``-n N`` with N >= 1)? xdist's
    ``pytest_cmdline_main`` has set ``dist`` by the time ``pytest_configure`` runs."""
    return not _is_xdist_worker(config) and getattr(config.option, "dist", "no") != "no"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if _is_xdist_worker(session.config):
        session.config.workeroutput["llmbench_records"] = json.dumps(state.records_as_dicts())
        return
    if state.rounds is not None:  # `llmbench ab` judges and reports; its workers write nothing
        return
    if state.records:
        state.write_report()
        from llmbench.pytest_plugin.history_hook import append_to_history

        state.history_note = append_to_history(session.config, state.written_report)
        if session.config.getoption("wandb"):
            from llmbench.report.wandb_log import log_records

            log_records(state.records_as_dicts())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: gather the records each worker measured."""
    payload = getattr(node, "workeroutput", {}).get("llmbench_records")
    if not payload:
        return
    state = node.config.stash[STATE_KEY]
    for data in json.loads(payload):
        state.records.append(Record.from_dict(data))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.records or _is_xdist_worker(config) or state.rounds:
        return
    tr = terminalreporter
    tr.write_sep("=", "llmbench summary")
    for line in summary_lines(state.records_as_dicts()):
        tr.write_line(line)
    written = [r.baseline_path for r in state.records if r.outcome is Outcome.UPDATED]
    if written:
        tr.write_line(f"\nbaselines written ({len(written)}):")
        for path in sorted(written):
            tr.write_line(f"  {path}")
    from llmbench.report.judges import terminal_lines  # the judges used and their AUCs, once

    for line in terminal_lines(state.records_as_dicts()):
        tr.write_line(line)
    if state.written_report:
        tr.write_line(f"\nreport: {state.written_report}")
    if getattr(state, "history_note", None):
        tr.write_line(state.history_note)


__all__ = ["MARKERS", "STATE_KEY", "BenchSession", "Record", "RegressionCheck",
           "benchmark_id_for", "collection_profiles", "cuda_problem", "judge_group",
           "resolve_profile", "skip_without_hub"]
