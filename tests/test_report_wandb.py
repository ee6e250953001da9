"""--wandb: one offline W&B run per record, with the metrics, verdicts and curves."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from report_records import make_record

from llmbench.regression.results import cost, quality
from llmbench.report.wandb_log import history_rows, log_records, run_names, summary_values


def lora_record() -> dict:
    record = make_record("lora_ranks/lora_rank/r8", "lora",
                         {"final_train_loss": quality(2.0, rel_tol=0.01),
                          "runtime_s": cost(10.0, "s")},
                         baseline={"final_train_loss": 2.5},
                         artifacts={"loss_curve": [3.0, 2.5, 2.0], "questions": ["q1"],
                                    "dropped_examples": [4, 7]},
                         params={"rank": 8, "steps": 3})
    record["baseline_artifacts"] = {"loss_curve": [3.1, 2.6]}
    return record


def test_names_history_and_summary_of_a_record(monkeypatch):
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    record = lora_record()
    assert run_names(record) == ("llmbench-lora_ranks", "lora_rank-r8-cpu",
                                 "lora_ranks/lora_rank")
    assert history_rows(record) == [
        (1, {"curve/loss_curve": 3.0, "curve/baseline/loss_curve": 3.1}),
        (2, {"curve/loss_curve": 2.5, "curve/baseline/loss_curve": 2.6}),
        (3, {"curve/loss_curve": 2.0})]
    summary = summary_values(record)
    assert summary["final_train_loss"] == 2.0
    assert summary["baseline/final_train_loss"] == 2.5
    assert summary["verdict/final_train_loss"] == "improved"
    assert summary["verdict/runtime_s"] == "not compared"
    assert summary["outcome"] == "improved"
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    assert run_names(record)[0] == "mine"


def read_wandb_records(path: Path) -> list:
    """Records of a .wandb file: a LevelDB-style log (32 KiB blocks of crc/length/type chunks)
    of protobuf ``Record`` messages after a 7-byte ':W&B' header."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, records, pending = 7, [], b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer too small for a chunk header
            pos += 32768 - pos % 32768
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def test_offline_run_holds_the_metrics_and_the_loss_curve(tmp_path, monkeypatch):
    import wandb  # llmbench[wandb]: installed wherever the tests run, so no skip
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    errored = make_record("lora_ranks/lora_rank/r16", "lora", {})
    errored["result"] = None  # a benchmark that errored has nothing to log
    try:
        [run_dir] = log_records([lora_record(), errored])
    finally:
        wandb.teardown()
    assert Path(run_dir).is_relative_to(tmp_path / "wandb")
    [log_file] = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")

    records = read_wandb_records(log_file)
    [run] = [r.run for r in records if r.HasField("run")]
    assert (run.project, run.display_name, run.run_group) == (
        "llmbench-lora_ranks", "lora_rank-r8-cpu", "lora_ranks/lora_rank")
    curve = [json_value(item) for r in records if r.HasField("history")
             for item in r.history.item if list(item.nested_key) == ["curve/loss_curve"]]
    assert curve == [3.0, 2.5, 2.0]
    summary = {u.key: json_value(u) for r in records if r.HasField("summary")
               for u in r.summary.update if u.key}
    assert summary["final_train_loss"] == 2.0
    assert summary["verdict/final_train_loss"] == "improved"


def json_value(item) -> object:
    return json.loads(item.value_json)


def test_the_wandb_option_logs_every_benchmark_of_a_run(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makepyfile(test_tiny="""
import pytest
from llmbench.regression.results import Result, quality

@pytest.mark.parametrize("rank", [1, 2], ids=lambda r: f"r{r}")
def test_fit(rank, bench_device, regression):
    curve = [1.0 / (step * rank) for step in range(1, 4)]
    regression.check(Result("lora", {"rank": rank}, {"final_train_loss": quality(curve[-1])},
                            artifacts={"loss_curve": curve}))
""")
    pytester.runpytest_subprocess("--update-baselines").assert_outcomes(passed=2, skipped=2)
    assert not (tmp_path / "wandb").exists()  # off by default
    pytester.runpytest_subprocess("--wandb").assert_outcomes(passed=2, skipped=2)
    names = set()
    for log_file in (tmp_path / "wandb").glob("offline-run-*/run-*.wandb"):
        names |= {r.run.display_name for r in read_wandb_records(log_file) if r.HasField("run")}
    assert names == {"fit-r1-cpu", "fit-r2-cpu"}
