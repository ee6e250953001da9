"""``llmbench`` command line: render a report again, compare two runs.

    llmbench report .llmbench/results.json [--out DIR]
    llmbench compare old/results.json new/results.json [--changed]
    llmbench noise-study session-a/results.json session-b/results.json --metric runtime_s
    llmbench judge-pairs [FILE] [--qa FILE]
    llmbench profiles [NAME ...] [--project DIR] [--json]
    llmbench rag-retrieval [--profile NAME] [--corpus DIR] [--qa FILE]
    llmbench history import|changes|html|study ...   (llmbench.cli_history)
    llmbench ab BASE CANDIDATE [options] [-- PYTEST_ARGS...]   (llmbench.cli_ab)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from llmbench.report import load_results, render_report
from llmbench.report.schema import validate_results


def _load(path: str) -> dict[str, Any]:
    """results.json, checked against its schema when jsonschema is installed."""
    data = load_results(Path(path))
    if data.get("kind") == "ab":
        raise ValueError(f"{path} is an A/B run of `llmbench ab`, not a run of the plugin: its "
                         "report is the summary.md beside it")
    try:
        validate_results(data, source=path)
    except ImportError:  # jsonschema comes with the `report` extra
        pass
    return data


def cmd_report(args: argparse.Namespace) -> int:
    results = _load(args.results)
    out = Path(args.out) if args.out else Path(args.results).parent
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY") if args.github_step_summary else None
    summary = render_report(results, out, step_summary=step_summary, plots=not args.no_plots)
    print(f"wrote {summary}")
    plots = sorted((out / "plots").glob("*.png")) if not args.no_plots else []
    for plot in plots:
        print(f"wrote {plot}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from llmbench.report.compare_runs import compare_runs

    a, b = _load(args.a), _load(args.b)
    print(compare_runs(a, b, label_a=args.a, label_b=args.b, changed_only=args.changed), end="")
    return 0


def cmd_noise_study(args: argparse.Namespace) -> int:
    from llmbench.tools.noise_study import study, summarize, to_markdown

    calibration = [_load(path) for path in args.calibration_run or []]
    rows = study(_load(args.a), _load(args.b), args.metric, calibration, trials=args.trials,
                 repeats=args.repeats)
    print(summarize(rows) if args.summary else to_markdown(rows), end="")
    return 0


def cmd_judge_pairs(args: argparse.Namespace) -> int:
    """Validate a labelled judge set; the shipped one must also match the shipped QA set."""
    from llmbench.core.fixtures import fixture_path
    from llmbench.judges.labelled import completeness_problems, kind_counts, load_judge_pairs

    shipped = args.file is None
    path = fixture_path("rag/judge_pairs.jsonl") if shipped else Path(args.file)
    items = load_judge_pairs(path, option="llmbench judge-pairs FILE")
    problems: list[str] = []
    if shipped or args.qa or args.complete:
        qa = None
        if shipped or args.qa:
            from llmbench.suites.rag.data import load_qa

            qa = load_qa(args.qa or fixture_path("rag/qa.jsonl"))
        problems = completeness_problems(items, path, qa)
    if problems:
        print(f"{len(problems)} problem(s) in {path}:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    counts = ", ".join(f"{n} {kind}" for kind, n in kind_counts(items).items() if n)
    print(f"{path}: {len(items)} questions ({counts}): ok")
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from llmbench.profiles import project_registry
    from llmbench.profiles.listing import as_toml, render_rows, summary_rows

    registry = project_registry(Path(args.project))
    profiles = [registry.get(name) for name in args.names] or list(registry)
    if args.json:
        print(json.dumps([p.to_dict() for p in profiles], indent=2))
    elif args.names:
        print("\n".join(as_toml(p) for p in profiles), end="")
    else:
        print(render_rows(summary_rows(profiles)))
        searched = ", ".join(map(str, registry.files)) or "no pyproject.toml or llmbench.toml"
        print(f"\nproject profiles read from: {searched}")
        print("every resolved setting of one: llmbench profiles NAME")
    return 0


def cmd_rag_retrieval(args: argparse.Namespace) -> int:
    """Every retriever that needs no generator, scored on every labelled question."""
    from llmbench.profiles import project_registry
    from llmbench.suites.rag.rankings import table
    from llmbench.suites.rag.retrieval_quality import RETRIEVAL_ONLY, rank_all

    settings = project_registry(Path(args.project)).get(args.profile).rag
    names = [r for r in RETRIEVAL_ONLY if r in settings.retrievers]
    print(table(rank_all(settings, names, corpus_dir=args.corpus, qa_path=args.qa)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmbench",
                                     description="Reports of llmbench runs (results.json) and the "
                                                 "profiles a run can use.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    report = sub.add_parser("report", help="write summary.md and plots from a results.json")
    report.add_argument("results", help="results.json written by pytest --bench-report DIR")
    report.add_argument("--out", metavar="DIR",
                        help="where to write summary.md and plots/ (default: next to results)")
    report.add_argument("--no-plots", action="store_true", help="skip the PNG charts")
    report.add_argument("--github-step-summary", action="store_true",
                        help="also append the summary to $GITHUB_STEP_SUMMARY")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="print two runs side by side (markdown)")
    compare.add_argument("a", metavar="A.json", help="the earlier run's results.json")
    compare.add_argument("b", metavar="B.json", help="the later run's results.json")
    compare.add_argument("--changed", action="store_true",
                         help="only metrics that moved beyond their tolerance")
    compare.set_defaults(func=cmd_compare)

    noise = sub.add_parser("noise-study",
                           help="detections and false alarms of the old and new comparison "
                                "rules, on the samples of two --bench-repeats runs")
    noise.add_argument("a", metavar="A.json", help="baseline session's results.json")
    noise.add_argument("b", metavar="B.json", help="current session's results.json")
    noise.add_argument("--metric", action="append", required=True,
                       help="metric to study (repeatable), e.g. runtime_s")
    noise.add_argument("--calibration-run", action="append", metavar="C.json",
                       help="another session's results.json: adds the drift between sessions "
                            "to the calibrated tolerance (repeatable)")
    noise.add_argument("--trials", type=int, default=1000, help="trials per effect size")
    noise.add_argument("--repeats", type=int, default=5,
                       help="samples per side for the repeated rules (default 5)")
    noise.add_argument("--summary", action="store_true",
                       help="one line per rule, averaged over benchmarks and metrics")
    noise.set_defaults(func=cmd_noise_study)

    pairs = sub.add_parser("judge-pairs",
                           help="check a labelled judge set (--judge-pairs FILE); without FILE, "
                                "the shipped fixtures/rag/judge_pairs.jsonl against its QA set")
    pairs.add_argument("file", nargs="?", metavar="FILE", help="JSONL judge set to check")
    pairs.add_argument("--qa", metavar="FILE",
                       help="QA set the judge set must cover (same ids, questions, references)")
    pairs.add_argument("--complete", action="store_true",
                       help="also require right, wrong, offtopic and evasive on every line")
    pairs.set_defaults(func=cmd_judge_pairs)

    profiles = sub.add_parser("profiles",
                              help="list the built-in and the project's profiles: where each "
                                   "comes from and its resolved settings")
    profiles.add_argument("names", nargs="*", metavar="NAME",
                          help="print these profiles' resolved settings in full (as TOML)")
    profiles.add_argument("--project", default=".", metavar="DIR",
                          help="where to look for pyproject.toml / llmbench.toml (default: the "
                               "current directory and its parents)")
    profiles.add_argument("--json", action="store_true", help="machine-readable output")
    profiles.set_defaults(func=cmd_profiles)

    retrieval = sub.add_parser("rag-retrieval",
                               help="score the RAG retrievers on every labelled question "
                                    "(recall@k, MRR, nDCG, top-1 disagreement); no generation")
    retrieval.add_argument("--profile", default="embedded",
                           help="profile whose RAG settings to use (default: embedded)")
    retrieval.add_argument("--project", default=".", metavar="DIR",
                           help="where to look for the project's profiles (default: .)")
    retrieval.add_argument("--corpus", metavar="DIR", help="another corpus (as --rag-corpus)")
    retrieval.add_argument("--qa", metavar="FILE", help="another QA set (as --rag-qa)")
    retrieval.set_defaults(func=cmd_rag_retrieval)

    from llmbench.cli_ab import add_ab_command
    from llmbench.cli_history import add_history_commands

    add_history_commands(sub)
    add_ab_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from llmbench.cli_ab import split_pytest_args

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if argv[:1] == ["ab"]:  # everything after -- is pytest's, options included
        argv, pytest_args = split_pytest_args(argv)
    args = parser.parse_args(argv)
    args.pytest_args = pytest_args
    try:
        return args.func(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"llmbench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
