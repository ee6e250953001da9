"""A real (tiny) benchmark run through the plugin: results.json matches its schema, the summary
and plots are written, and the metrics reach the JUnit XML as test properties."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import matplotlib.figure  # noqa: F401 - import once, not in every in-process run below
import pytest
import torch  # noqa: F401 - imported before pytester's in-process runs, which must not re-import it

from llmbench.regression.results import Direction, Scope
from llmbench.regression.verdicts import Outcome, Verdict
from llmbench.report.schema import load_schema, schema_errors, validate_results

pytest_plugins = ["pytester"]

# A real measurement, small enough for a unit test: fit a rank-r factorisation by SGD.
TOY_BENCHMARK = """
import time

import pytest
import torch

from llmbench.regression.results import Metric, Result, cost, quality


@pytest.mark.parametrize("rank", [1, 4], ids=lambda r: f"r{r}")
def test_lowrank_fit(rank, bench_device, regression):
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    target = x @ torch.randn(8, 8)
    a = torch.nn.Parameter(torch.randn(8, rank) * 0.1)
    b = torch.nn.Parameter(torch.zeros(rank, 8))
    losses = []
    start = time.perf_counter()
    for _ in range(20):
        loss = torch.nn.functional.mse_loss(x @ a @ b, target)
        loss.backward()
        with torch.no_grad():
            for param in (a, b):
                param -= 0.05 * param.grad
                param.grad = None
        losses.append(loss.item())
    runtime = time.perf_counter() - start
    regression.check(Result(
        "lora", {"rank": rank, "steps": 20, "lr": 0.05, "seed": 0},
        metrics={
            "final_train_loss": quality(losses[-1], rel_tol=0.05, abs_tol=1e-6),
            # compared against a baseline from seconds ago: generous so load cannot fail it
            "runtime_s": cost(runtime, "s", rel_tol=1000.0),
            "trainable_params": Metric(a.numel() + b.numel(), "params", "exact"),
        },
        artifacts={"loss_curve": losses}))
"""


@pytest.fixture
def toy(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makepyfile(test_toy=TOY_BENCHMARK)
    return pytester


def test_real_run_writes_a_schema_valid_report_and_junit_properties(toy: pytest.Pytester):
    toy.runpytest("--update-baselines").assert_outcomes(passed=2, skipped=2)
    updated = json.loads((toy.path / ".llmbench" / "results.json").read_text())
    assert schema_errors(updated) == []
    assert {r["outcome"] for r in updated["benchmarks"]} == {"updated"}

    toy.runpytest("--junitxml=junit.xml").assert_outcomes(passed=2, skipped=2)
    results = json.loads((toy.path / ".llmbench" / "results.json").read_text())
    validate_results(results, "results.json")
    records = {r["benchmark_id"]: r for r in results["benchmarks"]}
    assert sorted(records) == ["toy/lowrank_fit/r1", "toy/lowrank_fit/r4"]
    r4 = records["toy/lowrank_fit/r4"]
    assert r4["outcome"] == "pass"
    assert r4["comparison"]["trainable_params"]["verdict"] == "pass"
    assert r4["result"]["metrics"]["trainable_params"]["value"] == 64.0
    assert len(r4["result"]["artifacts"]["loss_curve"]) == 20

    summary = (toy.path / ".llmbench" / "summary.md").read_text()
    assert "## LoRA ranks" in summary
    assert "| Rank | Verdict | Time (s) | Final loss | Runtime (s) | Trainable params |" in summary
    assert "| r1 | ✅ pass |" in summary and "| r4 | ✅ pass |" in summary
    plots = sorted(p.name for p in (toy.path / ".llmbench" / "plots").iterdir())
    assert plots == ["lora-toy-lowrank_fit-cpu-embedded-cost.png",
                     "lora-toy-lowrank_fit-cpu-embedded-loss.png"]

    # JUnit: every metric of a checked benchmark is a <property> of its test case.
    cases = {case.get("name"): case for case in ET.parse(toy.path / "junit.xml").iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_lowrank_fit[cpu-r4]"].iter("property")}
    metrics = r4["result"]["metrics"]
    assert set(props) == set(metrics)
    assert float(props["final_train_loss"]) == metrics["final_train_loss"]["value"]
    assert float(props["trainable_params"]) == 64.0


def record_with(**changes) -> dict:
    record = {"nodeid": "t.py::t", "benchmark_id": "m/f/c", "profile": "smoke", "device": "cpu",
              "outcome": "pass", "baseline_path": "b.json", "result": None, "comparison": {},
              "environment": {}, "message": ""}
    record.update(changes)
    return {"schema_version": 1, "benchmarks": [record],
            "provenance": {"git_commit": None, "git_dirty": None,
                           "date": "2025-01-01T00:00:00+00:00"}}


@pytest.mark.parametrize(("changes", "where"), [
    ({"outcome": "fine"}, "benchmarks[0].outcome"),
    ({"benchmark_id": "no-slashes"}, "benchmarks[0].benchmark_id"),
    ({"environment": {"cpu": "x"}}, "benchmarks[0].environment"),
    ({"result": {"suite": "lora", "params": {}, "artifacts": {}, "notes": [],
                 "metrics": {"loss": {"value": "1.5", "unit": "", "direction": "lower",
                                      "rel_tol": 0, "abs_tol": 0, "scope": "quality",
                                      "compare": True}}}},
     "benchmarks[0].result.metrics.loss.value"),
    ({"comparison": {"loss": {"verdict": "worse", "current": 1, "baseline": 1, "change": 0,
                              "allowed": 0, "unit": ""}}},
     "benchmarks[0].comparison.loss.verdict"),
])
def test_schema_names_the_bad_field(changes, where):
    assert schema_errors(record_with()) == []
    errors = schema_errors(record_with(**changes))
    assert errors and errors[0].startswith(where + ":")
    with pytest.raises(ValueError, match="results.json does not match results.schema.json"):
        validate_results(record_with(**changes), "results.json")


def test_schema_enums_match_the_code():
    defs = load_schema()["$defs"]
    assert defs["record"]["properties"]["outcome"]["enum"] == [o.value for o in Outcome]
    assert defs["comparisonRow"]["properties"]["verdict"]["enum"] == [v.value for v in Verdict]
    assert defs["metric"]["properties"]["direction"]["enum"] == [d.value for d in Direction]
    assert defs["metric"]["properties"]["scope"]["enum"] == [s.value for s in Scope]
