"""Command-line options of the ``llmbench`` group, their checks, and the accept command.

Every option of the group that is not in ``NOT_CARRIED`` is carried into the command printed to
accept a result (``pytest <node> --update-baselines ...``): options that change a benchmark's
params (profile, steps, judge, data, matrix overrides, hardware key, baseline dir) must be
there, or following the command would re-baseline a different configuration. New options are
carried unless listed here.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmbench.core.specs import GENERATOR_FORMS
from llmbench.profiles import ALL_PRECISIONS, ALL_RETRIEVERS, PROFILES
from llmbench.regression.repeats import SeedPolicy
from llmbench.regression.stats import DEFAULT_ALPHA

GROUP = "llmbench"
CALIBRATION_REPEATS = 5
AUTO = "auto"
# Options that change how a run is judged, reported or logged, not what it measures.
NOT_CARRIED = frozenset({
    "update_baselines", "calibrate", "bench_report", "wandb", "langsmith", "no_cost_compare",
    "bench_confirm", "bench_alpha", "baseline_reason", "baseline_author", "bench_history",
    "no_bench_history", "remote_deadline", "require_network", "ab_worker", "ab_only",
})


@dataclass(frozen=True)
class OptionSpec:
    dest: str
    flag: str  # the long option name, e.g. --bench-profile
    default: Any
    is_flag: bool  # store_true: carried as the bare flag


_GROUP: list[Any] = []  # the option group of the current run (read when a command is built)


def repeats_value(text: str) -> str | int:
    if text == AUTO:
        return AUTO
    try:
        value = int(text)
    except ValueError:
        raise pytest.UsageError(f"--bench-repeats must be 'auto' or an integer >= 1, got "
                                f"{text!r}") from None
    return value


def workers_value(text: str) -> str | int:
    """--bench-workers: 'auto' or a count >= 1 (checked here: no later check needs the profile)."""
    if text == AUTO:
        return AUTO
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise pytest.UsageError(f"--bench-workers must be 'auto' or an integer >= 1, got "
                                f"{text!r}")
    return value


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "llmbench benchmarks and baselines")
    group.addoption("--update-baselines", action="store_true", default=False,
                    help="rewrite the baselines of the benchmarks that ran, from this run")
    group.addoption("--baseline-dir", default="baselines", metavar="PATH",
                    help="directory of baseline JSON files, relative to the rootdir "
                         "(default: baselines/)")
    group.addoption("--bench-profile", default=None, metavar="NAME",
                    help=f"profile: {', '.join(PROFILES)}, or one of the project's "
                         "[tool.llmbench.profiles.NAME] (pyproject.toml / llmbench.toml; "
                         "`llmbench profiles` lists them) (default: embedded on CPU, "
                         "opt-350m-random on CUDA)")
    group.addoption("--bench-report", default=".llmbench", metavar="DIR",
                    help="directory for results.json and the report, relative to the rootdir "
                         "(default: .llmbench/)")
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
    group.addoption("--bench-repeats", type=repeats_value, default=AUTO, metavar="N|auto",
                    help="run each benchmark N times and keep every value as a sample; 'auto' "
                         "(default) repeats cheap benchmarks (under 3 s a run) up to 3 times "
                         "within 10 s and runs the others once; 5 with --calibrate")
    group.addoption("--bench-seeds", choices=[p.value for p in SeedPolicy], default="same",
                    help="seed of each repeat: 'same' (profile seed; seeded metrics must "
                         "reproduce exactly) or 'fresh' (seed + i; their spread is sampled)")
    group.addoption("--calibrate", action="store_true", default=False,
                    help="rewrite the baselines like --update-baselines and measure each noisy "
                         "metric's noise (spread within and drift between sessions)")
    group.addoption("--bench-confirm", type=int, default=0, metavar="N",
                    help="when a benchmark regressed, is unconfirmed, or was busy (timings not "
                         "judged: machine busy or at another speed), measure it again (with its "
                         "repeats) up to N times and judge all samples together")
    group.addoption("--bench-threads", type=int, default=None, metavar="N",
                    help="torch threads for CPU benchmarks (default: the profile's cpu_threads, "
                         "1 for the built-in ones; OMP_NUM_THREADS, when set, is honoured); a "
                         "CPU cost baseline compares only with runs of its thread count")
    group.addoption("--bench-workers", type=workers_value, default=None, metavar="N|auto",
                    help="pytest-xdist workers a CPU run spreads over (default: the profile's "
                         "cpu_workers, 'auto' for the built-in ones: the cores // the torch "
                         "threads, for runs of the benchmarks directory); part of the layout a "
                         "CPU cost baseline compares with; -n N is honoured")
    group.addoption("--bench-progress", choices=("auto", "on", "off"), default="auto",
                    help="show what a running benchmark does (step or question k of n, elapsed, "
                         "time left): in place on a terminal, plain lines in CI logs; auto "
                         "(default): on unless -q")
    group.addoption("--bench-alpha", type=float, default=DEFAULT_ALPHA, metavar="P",
                    help=f"significance level for 'regressed' (default {DEFAULT_ALPHA})")
    group.addoption("--baseline-reason", default=None, metavar="TEXT",
                    help="why these baselines are accepted; stored in their provenance")
    group.addoption("--baseline-author", default=None, metavar="NAME",
                    help="who accepts them (default: $LLMBENCH_AUTHOR, git user.name, $USER)")
    group.addoption("--hardware-key", default=None, metavar="NAME",
                    help="name this runner's hardware for cost baselines instead of the "
                         "detected cpu/<model> xN (also $LLMBENCH_HARDWARE_KEY)")

    # Profile axes from the command line: each replaces one axis of the resolved profile. The
    # cases they keep have the same ids and params, so they compare with the same baselines.
    group.addoption("--lora-ranks", default=None, metavar="R,R",
                    help="LoRA ranks to run instead of the profile's, e.g. 8,64")
    group.addoption("--precisions", default=None, metavar="P,P",
                    help=f"precisions to run instead of the profile's: {', '.join(ALL_PRECISIONS)}")
    group.addoption("--rag-generators", default=None, metavar="SPEC,SPEC",
                    help="RAG generators instead of the profile's: "
                         f"{', '.join(GENERATOR_FORMS)}")
    group.addoption("--rag-retrievers", default=None, metavar="NAME,NAME",
                    help=f"RAG retrievers instead of the profile's: {', '.join(ALL_RETRIEVERS)}")
    _GROUP[:] = [group]


def option_specs() -> list[OptionSpec]:
    """Every option of the group, including those other modules added to it after us."""
    specs = []
    for option in (_GROUP[0].options if _GROUP else []):
        long_names = [n for n in option.names() if n.startswith("--")]
        if not long_names:
            continue
        attrs = option.attrs()
        specs.append(OptionSpec(attrs["dest"], long_names[0], attrs.get("default"),
                                attrs.get("action") in ("store_true", "store_false")))
    return specs


def check_options(config: pytest.Config) -> None:
    """Bad values are usage errors (exit 4) before anything runs."""
    repeats = config.getoption("bench_repeats")
    if repeats != AUTO and repeats < 1:
        raise ValueError(f"--bench-repeats must be 'auto' or >= 1, got {repeats}")
    if config.getoption("calibrate") and repeats != AUTO and repeats < 3:
        raise ValueError(f"--calibrate needs --bench-repeats >= 3 to measure a spread, "
                         f"got {repeats}")
    threads = config.getoption("bench_threads")
    if threads is not None and threads < 1:
        raise ValueError(f"--bench-threads must be >= 1, got {threads}")
    if config.getoption("bench_confirm") < 0:
        raise ValueError(f"--bench-confirm must be >= 0, got {config.getoption('bench_confirm')}")
    if not 0 < config.getoption("bench_alpha") < 1:
        raise ValueError(f"--bench-alpha must be in (0, 1), got {config.getoption('bench_alpha')}")
    if config.getoption("judge_repeats") < 1:
        raise ValueError(f"--judge-repeats must be >= 1, got {config.getoption('judge_repeats')}")
    key = config.getoption("hardware_key")
    if key is not None and not key.strip():
        raise ValueError("--hardware-key must not be empty")
    for option, kind in (("rag_corpus", "directory"), ("rag_qa", "file")):
        value = config.getoption(option)
        if value is None:
            continue
        path = Path(value)
        exists = path.is_dir() if kind == "directory" else path.is_file()
        if not exists:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{flag} {value}: no such {kind}")


def rooted(config: pytest.Config, option: str) -> Path:
    """An option's path, relative to pytest's rootdir unless absolute."""
    path = Path(os.path.expanduser(config.getoption(option)))
    return path if path.is_absolute() else Path(config.rootpath) / path


def accept_command(config: pytest.Config, nodeid: str) -> str:
    """The shell command that rewrites this benchmark's baseline with this run's settings."""
    args = ["pytest", nodeid, "--update-baselines"]
    for spec in option_specs():
        if spec.dest in NOT_CARRIED:
            continue
        value = config.getoption(spec.dest)
        if value == spec.default or value is None:
            continue
        if spec.is_flag:
            args.append(spec.flag)
        elif isinstance(value, (list, tuple)):
            args += [spec.flag, ",".join(map(str, value))]
        else:
            args += [spec.flag, str(value)]
    command = shlex.join(args)
    if Path.cwd().resolve() != Path(config.rootpath).resolve():
        command = f"cd {shlex.quote(str(config.rootpath))} && {command}"
    return command
