"""The pytest plugin: options, markers, the ``regression`` fixture and the run summary.

This is the only module that imports pytest. Runners produce ``Result`` objects; the
``regression`` fixture compares them with ``baselines/`` (or rewrites those under
``--update-baselines``); the session collects one record per benchmark for the terminal
summary and ``results.json``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmbench.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile
from llmbench.regression import environment
from llmbench.regression.baselines import (
    BaselineError,
    BaselineStore,
    compare_with_baseline,
    config_hash,
)
from llmbench.regression.compare import NEAR_EXACT, Comparison, Outcome, Verdict
from llmbench.regression.repeats import Merged, SeedPolicy, merge_repeats, seeds_for
from llmbench.regression.results import Result, Scope
from llmbench.regression.stats import DEFAULT_ALPHA

MARKERS = {
    "gpu": "needs CUDA; `-m gpu` without CUDA is an error, otherwise skipped",
    "lora": "LoRA rank benchmarks",
    "quant": "quantization precision benchmarks",
    "rag": "RAG configuration benchmarks",
    "judge": "LLM-as-judge benchmarks",
    "network": "needs a network endpoint (API key); skipped without one",
    "slow": "takes minutes on CPU",
}
DEVICES = ("cpu", "cuda")
CALIBRATION_REPEATS = 5
STATE_KEY = pytest.StashKey["BenchSession"]()
log = logging.getLogger("llmbench")  # repeats and confirmations: --log-cli-level=INFO


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmbench", "llmbench benchmarks and baselines")
    group.addoption("--update-baselines", action="store_true", default=False,
                    help="rewrite the baselines of the benchmarks that ran, from this run")
    group.addoption("--baseline-dir", default="baselines", metavar="PATH",
                    help="directory of baseline JSON files (default: baselines/)")
    group.addoption("--bench-profile", default=None, metavar="NAME",
                    help=f"profile: {', '.join(PROFILES)} (default: embedded on CPU, "
                         "opt-350m-random on CUDA)")
    group.addoption("--bench-report", default=".llmbench", metavar="DIR",
                    help="directory for results.json and the report (default: .llmbench/)")
    group.addoption("--bench-steps", type=int, default=None, metavar="N",
                    help="override the profile's training steps (changes the config hash)")
    group.addoption("--rag-corpus", default=None, metavar="DIR",
                    help="folder of .md/.txt documents to use instead of the profile's corpus")
    group.addoption("--rag-qa", default=None, metavar="FILE",
                    help="JSONL QA file to use instead of the profile's QA set")
    group.addoption("--judge", default=None, metavar="SPEC",
                    help="LLM judge: smollm2-135m (offline default) or openai:<model>")
    group.addoption("--judge-repeats", type=int, default=1, metavar="N",
                    help="judge every answer N times; spread goes into the result")
    group.addoption("--langsmith", action="store_true", default=False,
                    help="record each RAG configuration as a LangSmith experiment "
                         "(needs LANGSMITH_API_KEY)")
    group.addoption("--wandb", action="store_true", default=False,
                    help="log metrics and curves to Weights & Biases (WANDB_MODE=offline works)")
    group.addoption("--no-cost-compare", action="store_true", default=False,
                    help="record cost metrics (time, memory) without comparing them: for "
                         "shared CI machines whose timings are noise")
    group.addoption("--bench-repeats", type=int, default=None, metavar="N",
                    help="run each benchmark N times and keep every value as a sample "
                         "(default 1; 5 with --calibrate)")
    group.addoption("--bench-seeds", choices=[p.value for p in SeedPolicy], default="same",
                    help="seed of each repeat: 'same' (profile seed; seeded metrics must "
                         "reproduce exactly) or 'fresh' (seed + i; their spread is sampled)")
    group.addoption("--calibrate", action="store_true", default=False,
                    help="rewrite the baselines like --update-baselines and derive each noisy "
                         "metric's tolerance from the spread of its repeats")
    group.addoption("--bench-confirm", type=int, default=0, metavar="N",
                    help="measure a benchmark that regressed again, up to N times; it fails only "
                         "if every independent re-measurement regresses too")
    group.addoption("--bench-alpha", type=float, default=DEFAULT_ALPHA, metavar="P",
                    help=f"significance level of the regression test (default {DEFAULT_ALPHA})")
    group.addoption("--baseline-reason", default=None, metavar="TEXT",
                    help="why these baselines are accepted; stored in their provenance")
    group.addoption("--baseline-author", default=None, metavar="NAME",
                    help="who accepts them (default: $LLMBENCH_AUTHOR, git user.name, $USER)")
    # The result history (llmbench.history): --bench-history / --no-bench-history.
    from llmbench.pytest_plugin.history_hook import add_history_options

    add_history_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    from llmbench.pytest_plugin.gpu_workers import assign_gpu

    try:
        assign_gpu()  # before anything initialises CUDA: one GPU per xdist worker
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    # langsmith's own pytest plugin tries to reach its API unless told not to.
    os.environ.setdefault("LANGSMITH_TEST_TRACKING", "false")
    try:
        BenchSession.check_options(config)
        if config.getoption("bench_profile") is not None:
            get_profile(config.getoption("bench_profile"))
        get_profile("smoke").with_overrides(steps=config.getoption("bench_steps"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[STATE_KEY] = BenchSession(config)


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


def resolve_profile(config: pytest.Config, device: str) -> Profile:
    name = config.getoption("bench_profile") or DEFAULT_PROFILE[device]
    return get_profile(name).with_overrides(steps=config.getoption("bench_steps"))


@pytest.fixture
def bench_profile(request: pytest.FixtureRequest) -> Profile:
    device = (request.getfixturevalue("bench_device")
              if "bench_device" in request.fixturenames else "cpu")
    return resolve_profile(request.config, device)


def benchmark_id_for(item: pytest.Item) -> str:
    """``<module>/<function>/<case>``: the device is not part of the id (it selects the entry)."""
    module = Path(str(item.path)).stem.removeprefix("test_")
    function = getattr(item, "originalname", item.name).removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    case = "default"
    if callspec is not None:
        parts = [p for p in callspec.id.split("-") if p not in DEVICES]
        case = "-".join(parts) or "default"
    return f"{module}/{function}/{case}"


@dataclass
class Record:
    """What the session keeps of one benchmark, for the summary and results.json."""

    nodeid: str
    benchmark_id: str
    profile: str
    device: str
    outcome: Outcome
    baseline_path: str
    result: dict[str, Any] | None = None
    comparison: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    baseline_artifacts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "benchmark_id": self.benchmark_id,
            "profile": self.profile,
            "device": self.device,
            "outcome": self.outcome.value,
            "baseline_path": self.baseline_path,
            "result": self.result,
            "comparison": self.comparison,
            "environment": self.environment,
            "message": self.message,
            "baseline_artifacts": self.baseline_artifacts,
        }


class RegressionCheck:
    """The ``regression`` fixture.

    ``regression.measure(run, seed=...)`` runs ``run(seed)`` once per ``--bench-repeats``,
    merges the results, compares them with the baseline (or rewrites it under
    ``--update-baselines`` / ``--calibrate``) and, under ``--bench-confirm``, re-runs a
    regression before reporting it. ``regression.check(result)`` compares one result as is.
    """

    def __init__(self, request: pytest.FixtureRequest, session: BenchSession, profile: Profile,
                 device: str) -> None:
        self.request = request
        self.session = session
        self.profile = profile
        self.device = device
        self.benchmark_id = benchmark_id_for(request.node)
        self.store = session.store
        self.path = self.store.path_for(profile.name, self.benchmark_id)
        # Loaded at setup so a corrupt file is a test *error*, before minutes of measuring.
        self.baseline = self.store.load(profile.name, self.benchmark_id)
        self.checked = False
        self.last_result: Result | None = None  # what check() saw: merged over the repeats

    def measure(self, run: Callable[[int], Result], seed: int) -> Comparison | None:
        merged = self._measure_once(run, seed)
        for attempt in range(1, self.session.confirm + 1):
            moved = [] if self.session.update else self._confirmable_regressions(merged)
            if not moved:
                break
            log.info(f"{self.benchmark_id}: {', '.join(moved)} regressed; measuring again to "
                     f"confirm ({attempt}/{self.session.confirm})")
            again = self._measure_once(run, seed)
            held = self._confirmable_regressions(again)
            again.result.notes.append(
                f"{', '.join(moved)} regressed; independent re-run {attempt} of "
                f"{self.session.confirm} " + (f"confirmed it ({', '.join(held)})" if held else
                                              "did not confirm it, so it is not reported"))
            merged = again
        return self.check(merged.result, merged.nondeterministic)

    def _measure_once(self, run: Callable[[int], Result], seed: int) -> Merged:
        """One measurement: ``--bench-repeats`` runs merged into one result."""
        policy = self.session.seed_policy
        seeds = seeds_for(seed, self.session.repeats, policy)
        results = [self._run_once(run, s, i, len(seeds)) for i, s in enumerate(seeds)]
        return merge_repeats(results, seeds, policy)

    def _run_once(self, run: Callable[[int], Result], seed: int, index: int, count: int
                  ) -> Result:
        if count > 1:
            log.info(f"{self.benchmark_id}: repeat {index + 1}/{count} (seed {seed})")
        return run(seed)

    def _confirmable_regressions(self, merged: Merged) -> list[str]:
        """Metrics that regress beyond noise and could clear on a re-run (not near-exact ones)."""
        result = merged.result
        if self.baseline is None or \
                self.baseline.data["config_hash"] != config_hash(result.suite, result.params):
            return []
        comparison = self._compare(result, merged.nondeterministic,
                                   environment.fingerprint(self.device))
        return [row.name for row in comparison.rows
                if row.verdict is Verdict.REGRESSED and row.tolerance != NEAR_EXACT]

    def _compare(self, result: Result, nondeterministic: dict[str, list[float]],
                 env: dict[str, Any]) -> Comparison:
        return compare_with_baseline(result, self.baseline, env,
                                     compare_cost=not self.session.skip_cost,
                                     alpha=self.session.alpha,
                                     nondeterministic=nondeterministic)

    def check(self, result: Result, nondeterministic: dict[str, list[float]] | None = None
              ) -> Comparison | None:
        self.checked = True
        self.last_result = result
        nondeterministic = nondeterministic or {}
        env = environment.fingerprint(self.device)
        record = Record(self.request.node.nodeid, self.benchmark_id, self.profile.name,
                        self.device, Outcome.PASS, str(self.path), result.to_dict(),
                        environment=env)
        for name, metric in sorted(result.metrics.items()):
            self.request.node.user_properties.append((name, metric.value))

        if self.session.update:
            if nondeterministic:
                record.outcome = Outcome.ERROR
                record.message = (
                    f"refusing to write {self.path}: these metrics should reproduce across "
                    f"repeats with seeds {result.repeats.get('seeds')} but did not:\n"
                    + "\n".join(f"  {name}: {values}"
                                for name, values in sorted(nondeterministic.items()))
                    + "\nNothing was written. Find the source of nondeterminism, or declare "
                      "the metric NOISY in its runner.")
                self.session.add(record)
                pytest.fail(record.message, pytrace=False)
            self.store.write(self.profile.name, self.benchmark_id, result, env,
                             self.session.provenance(), self.baseline,
                             calibrate=self.session.calibrate)
            record.outcome = Outcome.UPDATED
            record.message = f"wrote {self.path}"
            self.session.add(record)
            return None

        accept = self.session.accept_command(self.request.node.nodeid)
        if self.baseline is None:
            record.outcome = Outcome.NO_BASELINE
            record.message = (f"no baseline file {self.path}; create it from this run with:\n"
                              f"  {accept}")
            self.session.add(record)
            pytest.fail(record.message, pytrace=False)

        if self.baseline.data["config_hash"] != config_hash(result.suite, result.params):
            changed = _changed_params(self.baseline.data["params"], result.params)
            record.outcome = Outcome.NOT_COMPARABLE
            record.message = (f"baseline {self.path} is not comparable: the benchmark's params "
                              f"changed ({changed}). If the change is intended, re-baseline:\n"
                              f"  {accept}")
            self.session.add(record)
            pytest.fail(record.message, pytrace=False)

        has_quality = any(m.scope is Scope.QUALITY and m.compare for m in result.metrics.values())
        if has_quality and self.baseline.entry("quality", env["device_class"]) is None:
            record.outcome = Outcome.NO_BASELINE
            record.message = (f"baseline {self.path} has no entry for device class "
                              f"{env['device_class']!r}; record one with:\n  {accept}")
            self.session.add(record)
            pytest.fail(record.message, pytrace=False)

        entry = self.baseline.entry("quality", env["device_class"]) or {}
        record.baseline_artifacts = entry.get("artifacts", {})
        comparison = self._compare(result, nondeterministic, env)
        record.outcome = comparison.outcome
        record.comparison = {row.name: row.to_dict() for row in comparison.rows}
        record.message = self._cost_key_note(comparison, env)
        if comparison.outcome is Outcome.REGRESSED:
            record.message = (f"{self.benchmark_id} [{self.profile.name}, {self.device}] "
                              f"regressed:\n{format_table(comparison)}\n"
                              f"baseline: {self.path}\n"
                              f"if this change is intended, accept it with:\n  {accept}")
            self.session.add(record)
            pytest.fail(record.message, pytrace=False)
        if comparison.outcome is Outcome.IMPROVED:
            record.message = (f"improved beyond tolerance:\n{format_table(comparison)}\n"
                              f"consider accepting the new values: {accept}")
        self.session.add(record)
        return comparison

    def _cost_key_note(self, comparison: Comparison, env: dict[str, Any]) -> str:
        """Say so when cost metrics went uncompared because the baseline is from other hardware."""
        if self.session.skip_cost or not any(row.verdict is Verdict.NOT_COMPARED
                                             for row in comparison.rows):
            return ""
        keys = sorted(self.baseline.data.get("cost", {})) if self.baseline else []
        return (f"cost metrics not compared: no baseline for hardware {env['hardware_key']!r} "
                f"(baseline has: {', '.join(keys) or 'none'})")


def _changed_params(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs) or "suite changed"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.6g}"


def format_table(comparison: Comparison) -> str:
    """Only the rows that moved; ``n`` is samples current/baseline, ``test`` how it was decided."""
    rows = [("metric", "baseline", "current", "change", "allowed", "n", "test", "verdict")]
    for row in comparison.moved():
        rel = row.relative_change
        change = "-" if row.change is None else f"{row.change:+.6g}"
        change += f" ({rel:+.1%})" if rel is not None else ""
        allowed = _fmt(row.allowed) + (f" ({row.tolerance})" if row.tolerance else "")
        rows.append((row.name + (f" [{row.unit}]" if row.unit else ""), _fmt(row.baseline),
                     _fmt(row.current), change, allowed, f"{row.n_current}/{row.n_baseline}",
                     row.test or "-", row.verdict.value))
    return render_rows(rows)


def render_rows(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@pytest.fixture
def regression(request: pytest.FixtureRequest, bench_profile: Profile) -> RegressionCheck:
    device = (request.getfixturevalue("bench_device")
              if "bench_device" in request.fixturenames else "cpu")
    session = request.config.stash[STATE_KEY]
    try:
        checker = RegressionCheck(request, session, bench_profile, device)
    except BaselineError as exc:
        session.add(Record(request.node.nodeid, benchmark_id_for(request.node),
                           bench_profile.name, device, Outcome.ERROR, str(exc.path),
                           message=str(exc)))
        raise
    return checker


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A benchmark that failed before ``regression.check`` (NaN loss, OOM, …) still gets a row."""
    report = yield
    checker = getattr(item, "funcargs", {}).get("regression")
    if call.when == "call" and report.failed and isinstance(checker, RegressionCheck) \
            and not checker.checked:
        checker.session.add(Record(item.nodeid, checker.benchmark_id, checker.profile.name,
                                   checker.device, Outcome.ERROR, str(checker.path),
                                   message=call.excinfo.exconly()[:2000] if call.excinfo else ""))
    return report


# --- session state, xdist transport, summary, results.json ------------------------------------

class BenchSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.calibrate = bool(config.getoption("calibrate"))
        self.update = bool(config.getoption("update_baselines")) or self.calibrate
        self.skip_cost = bool(config.getoption("no_cost_compare"))
        repeats = config.getoption("bench_repeats")
        self.repeats = repeats if repeats is not None else (
            CALIBRATION_REPEATS if self.calibrate else 1)
        self.seed_policy = SeedPolicy(config.getoption("bench_seeds"))
        self.confirm = int(config.getoption("bench_confirm"))
        self.alpha = float(config.getoption("bench_alpha"))
        self.store = BaselineStore(Path(config.getoption("baseline_dir")))
        self.report_dir = Path(config.getoption("bench_report"))
        self.records: list[Record] = []

    @staticmethod
    def check_options(config: pytest.Config) -> None:
        repeats = config.getoption("bench_repeats")
        if repeats is not None and repeats < 1:
            raise ValueError(f"--bench-repeats must be >= 1, got {repeats}")
        if config.getoption("calibrate") and repeats is not None and repeats < 3:
            raise ValueError(f"--calibrate needs --bench-repeats >= 3 to measure a spread, "
                             f"got {repeats}")
        if config.getoption("bench_confirm") < 0:
            raise ValueError(f"--bench-confirm must be >= 0, got "
                             f"{config.getoption('bench_confirm')}")
        if not 0 < config.getoption("bench_alpha") < 1:
            raise ValueError(f"--bench-alpha must be in (0, 1), got "
                             f"{config.getoption('bench_alpha')}")

    def provenance(self) -> dict[str, Any]:
        """Who accepted a baseline, when, why, from which commit."""
        return {**environment.provenance(),
                "author": self.config.getoption("baseline_author") or environment.author(),
                "reason": self.config.getoption("baseline_reason"),
                "calibrated": self.calibrate}

    def add(self, record: Record) -> None:
        self.records.append(record)

    def accept_command(self, nodeid: str) -> str:
        args = ["pytest", f"'{nodeid}'", "--update-baselines"]
        if self.config.getoption("bench_profile"):
            args.append(f"--bench-profile {self.config.getoption('bench_profile')}")
        if self.config.getoption("baseline_dir") != "baselines":
            args.append(f"--baseline-dir {self.config.getoption('baseline_dir')}")
        return " ".join(args)

    def records_as_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if _is_xdist_worker(session.config):
        session.config.workeroutput["llmbench_records"] = json.dumps(state.records_as_dicts())
        return
    if state.records:
        from llmbench.report import write_report

        state.written_report = write_report(state.report_dir, state.records_as_dicts())
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
        state.records.append(Record(
            nodeid=data["nodeid"], benchmark_id=data["benchmark_id"], profile=data["profile"],
            device=data["device"], outcome=Outcome(data["outcome"]),
            baseline_path=data["baseline_path"], result=data["result"],
            comparison=data["comparison"], environment=data["environment"],
            message=data["message"], baseline_artifacts=data.get("baseline_artifacts", {})))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.records or _is_xdist_worker(config):
        return
    tr = terminalreporter
    tr.write_sep("=", "llmbench summary")
    rows = [("benchmark", "profile", "device", "verdict", "moved")]
    for rec in sorted(state.records, key=lambda r: (r.benchmark_id, r.device)):
        moved = [name for name, row in rec.comparison.items()
                 if row["verdict"] not in ("pass", "recorded", "not compared")]
        rows.append((rec.benchmark_id, rec.profile, rec.device, rec.outcome.value,
                     ", ".join(moved)[:60]))
    tr.write_line(render_rows(rows))
    written = [r.baseline_path for r in state.records if r.outcome is Outcome.UPDATED]
    if written:
        tr.write_line(f"\nbaselines written ({len(written)}):")
        for path in sorted(written):
            tr.write_line(f"  {path}")
    report = getattr(state, "written_report", None)
    if report:
        tr.write_line(f"\nreport: {report}")
    if getattr(state, "history_note", None):
        tr.write_line(state.history_note)
