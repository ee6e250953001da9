"""The llmbench command: report again from results.json, compare two runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from report_records import make_record

from llmbench.cli import main
from llmbench.regression.compare import Context
from llmbench.regression.results import cost, quality
from llmbench.report import write_report
from llmbench.report.compare_runs import judge


def write_run(directory, loss: float, runtime: float, extra: bool = False):
    metrics = {"final_train_loss": quality(loss, rel_tol=0.01),
               "runtime_s": cost(runtime, "s", kind="time")}
    records = [make_record("lora_ranks/lora_rank/r8", "lora", metrics,
                           baseline={"final_train_loss": 2.0},
                           artifacts={"loss_curve": [3.0, 2.5, loss]})]
    if extra:
        records.append(make_record("rag/rag_config/bm25", "rag",
                                   {"bleu": quality(0.3, direction="higher")}))
    return write_report(directory, records)


def test_report_renders_summary_and_plots_again(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    results = write_run(tmp_path / "run", 2.0, 10.0)
    assert main(["report", str(results), "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    summary = tmp_path / "again" / "summary.md"
    assert f"wrote {summary}" in out
    assert summary.read_text() == (tmp_path / "run" / "summary.md").read_text()
    assert sorted(p.name for p in (tmp_path / "again" / "plots").iterdir()) == [
        "lora-lora_ranks-lora_rank-cpu-smoke-cost.png",
        "lora-lora_ranks-lora_rank-cpu-smoke-loss.png"]


def test_compare_prints_both_runs_with_deltas_and_judgement(tmp_path, capsys):
    a = write_run(tmp_path / "a", loss=2.0, runtime=10.0)
    b = write_run(tmp_path / "b", loss=2.5, runtime=17.0, extra=True)
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# llmbench compare")
    assert ("| lora_ranks/lora_rank/r8 | smoke | cpu | final_train_loss |  | 2 | 2.5 "
            "| +0.5 (+25.0%) | regressed |") in out
    # one sample on each side: +70 % of an uncalibrated CPU timing is suggestive, not significant
    assert ("| lora_ranks/lora_rank/r8 | smoke | cpu | runtime_s | s | 10 | 17 "
            "| +7 (+70.0%) | unconfirmed |") in out
    assert "| rag/rag_config/bm25 | smoke | cpu | bleu |  | — | 0.3 |  | only in B |" in out

    assert main(["compare", str(a), str(b), "--changed"]) == 0
    changed = capsys.readouterr().out
    assert "final_train_loss" in changed and "runtime_s" in changed  # unconfirmed is a change
    c = write_run(tmp_path / "c", loss=2.0, runtime=10.0)
    assert main(["compare", str(a), str(c), "--changed"]) == 0
    same = capsys.readouterr().out
    assert "final_train_loss" not in same and "2 pass" in same


@pytest.mark.parametrize(("a", "b", "metric", "verdict"), [
    (2.0, 1.0, {"direction": "lower"}, "improved"),
    (2.0, 1.0, {"direction": "higher"}, "regressed"),
    (2.0, 2.1, {"direction": "lower", "rel_tol": 0.1}, "pass"),
    (64, 65, {"direction": "exact"}, "regressed"),
    (None, 1.0, {}, "only in B"),
    (1.0, None, {}, "only in A"),
    (float("nan"), 1.0, {}, "A not finite"),
    (1.0, float("nan"), {}, "failed"),
    (1.0, 2.0, {"compare": False}, "recorded"),
    (1.0, 1.7, {"kind": "time", "scope": "cost", "direction": "lower"}, "unconfirmed"),
    (1.0, 2.0, {"kind": "time", "scope": "cost", "direction": "lower"}, "regressed"),
])
def test_compare_judges_with_the_plugins_rule(a, b, metric, verdict):
    def as_dict(value):
        return None if value is None else {"value": value, **metric}

    assert judge(as_dict(a), as_dict(b), Context()) == verdict


def _timed_run(directory, runtime: float, ratio: float, machine: dict, busy: str = ""):
    metrics = {"final_train_loss": quality(2.0, rel_tol=0.01),
               "runtime_s": cost(runtime, "s", kind="time"),
               "relative_step_cost": cost(ratio, "x reference", kind="relative_time")}
    record = make_record("lora_ranks/lora_rank/r8", "lora", metrics)
    record["result"]["machine"] = machine
    if busy:
        record["result"]["busy"] = busy
    return write_report(directory, [record])


BUSY = "machine busy: this process waited 18.00 s for a CPU held by other work"


@pytest.mark.parametrize(("machine_b", "busy_b", "relative_verdict", "why"), [
    # other work took the CPU: the relative timing's two sides were preempted at random too
    ({"cpu_share": 0.4, "wall_s": 30.0, "runqueue_s": 18.0}, BUSY, "busy", f"run B: {BUSY}"),
    # the machine ran at another speed: what the relative timing cancels
    ({"cpu_share": 1.0, "wall_s": 30.0, "speed_probe_ms": 4.0, "speed_probe_version": 2}, "",
     "regressed", "machine 2.50x slower"),
])
def test_compare_leaves_timings_of_a_busy_pair_unjudged_as_the_plugin_does(
        tmp_path, capsys, machine_b, busy_b, relative_verdict, why):
    calm = {"cpu_share": 1.0, "wall_s": 30.0, "speed_probe_ms": 1.6, "speed_probe_version": 2}
    a = _timed_run(tmp_path / "a", runtime=10.0, ratio=5.0, machine=calm)
    b = _timed_run(tmp_path / "b", runtime=30.0, ratio=10.0, machine=machine_b, busy=busy_b)
    if busy_b:
        data = json.loads(b.read_text())
        data["benchmarks"][0]["result"]["contended"] = True
        b.write_text(json.dumps(data))
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| runtime_s | s | 10 | 30 | +20 (+200.0%) | busy |" in out  # 3x, but not evidence
    assert ("| relative_step_cost | x reference | 5 | 10 | +5 (+100.0%) | "
            f"{relative_verdict} |") in out
    assert "| final_train_loss |  | 2 | 2 | +0 (+0.0%) | pass |" in out
    assert why in out and "timings busy, not judged" in out

    c = _timed_run(tmp_path / "c", runtime=30.0, ratio=10.0, machine=calm)
    assert main(["compare", str(a), str(c)]) == 0
    assert "| runtime_s | s | 10 | 30 | +20 (+200.0%) | regressed |" in capsys.readouterr().out


@pytest.mark.parametrize(("environment_b", "why"), [
    ({"torch_threads": 2}, "run A ran with 1 torch thread(s), run B 2: run with --bench-threads 1"),
    ({"hardware_key": "cpu/Other x8"}, "run A ran on 'cpu/Test x2', run B on 'cpu/Other x8'"),
])
def test_compare_does_not_judge_costs_from_other_hardware_or_thread_counts(
        tmp_path, capsys, environment_b, why):
    calm = {"cpu_share": 1.0, "wall_s": 30.0}
    a = _timed_run(tmp_path / "a", runtime=10.0, ratio=5.0, machine=calm)
    b = _timed_run(tmp_path / "b", runtime=5.0, ratio=2.5, machine=calm)
    for path, env in ((a, {}), (b, environment_b)):
        data = json.loads(path.read_text())
        record_env = data["benchmarks"][0]["environment"]
        record_env.update({"device_class": "cpu", "hardware_key": "cpu/Test x2",
                           "torch_threads": 1, **env})
        path.write_text(json.dumps(data))
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| runtime_s | s | 10 | 5 | -5 (-50.0%) | not compared |" in out  # not "improved"
    assert "| relative_step_cost | x reference | 5 | 2.5 | -2.5 (-50.0%) | not compared |" in out
    assert "| final_train_loss |  | 2 | 2 | +0 (+0.0%) | pass |" in out
    assert why in out and "costs not compared" in out
    # as in the plugin, a cost that is not a number fails even where costs are not compared
    nan = {"value": float("nan"), "kind": "time", "scope": "cost", "direction": "lower"}
    assert judge({**nan, "value": 1.0}, nan, Context(), elsewhere="other hardware") == "failed"


def test_unreadable_or_invalid_results_are_a_clear_error(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope.json"), str(tmp_path / "nope.json")]) == 2
    assert f"cannot read results file {tmp_path / 'nope.json'}" in capsys.readouterr().err

    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"schema_version": 1, "benchmarks": [{"benchmark_id": 3}],
                               "provenance": {}}))
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad} does not match results.schema.json" in err
    assert "benchmarks[0].benchmark_id: 3 is not of type 'string'" in err


def test_python_dash_m_llmbench_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "llmbench", "compare", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "usage: llmbench compare" in out and "--changed" in out
