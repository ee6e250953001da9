"""summary.md: tables per suite, columns from the layout, deltas, marks, bad records."""

from __future__ import annotations

import json
import warnings

import pytest
from report_records import make_record

from llmbench.regression.results import Metric, cost, info, quality
from llmbench.report import ReportWarning, build_results, render_report, write_report
from llmbench.report.summary import format_number, render_summary, render_table
from llmbench.report.tables import build_tables


def lora_record(rank: int, loss: float, baseline_loss: float | None = None) -> dict:
    metrics = {"final_train_loss": quality(loss, "", rel_tol=0.02),
               "runtime_s": cost(10.0 + rank, "s", rel_tol=0.5),
               "rss_mean_bytes": cost(3 * 1024**3, "bytes", rel_tol=0.3),
               "trainable_params": Metric(1000 * rank, "params", "exact")}
    baseline = None
    if baseline_loss is not None:
        baseline = {"final_train_loss": baseline_loss, "trainable_params": 1000 * rank}
    return make_record(f"lora_ranks/lora_rank/r{rank}", "lora", metrics, baseline,
                       artifacts={"loss_curve": [3.0, 2.5, loss]})


def test_lora_table_has_the_users_columns_in_rank_order():
    records = [lora_record(256, 2.0, 2.0), lora_record(8, 2.2, 2.2), lora_record(128, 2.1, 2.1)]
    [table], problems = build_tables(records)
    assert problems == []
    assert [row.label for row in table.rows] == ["r8", "r128", "r256"]
    text = render_table(table)
    header = text.splitlines()[0]
    assert header == ("| Rank | Verdict | Time (s) | Final loss | Runtime (s) | RSS mean (MiB) "
                      "| Trainable params |")
    assert "| r8 | ✅ pass | — | 2.2 (+0.0%) | 18 | 3,072.0 | 8,000 (+0.0%) |" in text


def test_regression_and_improvement_are_marked_with_the_change():
    worse = lora_record(8, 2.5, baseline_loss=2.0)
    better = lora_record(16, 1.5, baseline_loss=2.0)
    [table], _ = build_tables([worse, better])
    text = render_table(table)
    assert "| r8 | ❌ regressed | — | 2.5 (+25.0%) ❌ |" in text
    assert "| r16 | ✨ improved | — | 1.5 (-25.0%) ✨ |" in text


def test_missing_metric_and_unknown_metric_names_still_show():
    record = make_record("lora_ranks/lora_rank/r8", "lora",
                         {"final_train_loss": quality(2.0), "brand_new_metric": info(7.0, "x")},
                         baseline={"final_train_loss": 2.0, "eval_loss": 2.1})
    [table], _ = build_tables([record])
    assert [c.title for c in table.columns] == ["Final loss", "Eval loss"]
    assert "missing ❓" in render_table(table).splitlines()[2]
    assert render_table(table, extra=True).splitlines() == [
        "| Rank | brand_new_metric (x) |", "|---|---:|", "| r8 | 7 |"]
    summary = render_summary(build_results([record]), [table], [])
    assert "<details><summary>Other metrics</summary>" in summary


def test_a_suite_without_layout_shows_all_its_metrics_in_the_main_table():
    record = make_record("speed/tokenizer/fast", "tokenizers",
                         {"encode_s": cost(0.5, "s"), "vocab": info(50000, "tokens")})
    [table], _ = build_tables([record])
    assert table.layout.title == "tokenizers benchmarks"
    assert render_table(table).splitlines()[0] == (
        "| Case | Verdict | Time (s) | encode_s (s) | vocab (tokens) |")
    assert table.extra_columns == []


def test_one_table_per_suite_and_benchmark_in_suite_order():
    records = [
        make_record("rag/rag_config/bm25-smollm2", "rag",
                    {"bleu": quality(0.2, direction="higher"),
                     "latency_p50_s": cost(1.5, "s")}),
        make_record("quantization/precision/nf4", "quant",
                    {"footprint_bytes": Metric(100 * 1024**2, "bytes", "exact")}),
        make_record("quantization/precision/fp32", "quant",
                    {"footprint_bytes": Metric(400 * 1024**2, "bytes", "exact")}),
        lora_record(8, 2.0),
    ]
    tables, _ = build_tables(records)
    assert [(t.suite, t.benchmark) for t in tables] == [
        ("lora", "lora_ranks/lora_rank"), ("quant", "quantization/precision"),
        ("rag", "rag/rag_config")]
    quant = tables[1]
    assert [r.label for r in quant.rows] == ["fp32", "nf4"]  # the profile's precision order
    assert render_table(tables[2]).splitlines()[0] == (
        "| Experiment | Verdict | Time (s) | BLEU | P50 latency (s) |")


def test_a_bad_record_is_skipped_with_a_warning_and_the_rest_is_reported(tmp_path):
    good = lora_record(8, 2.0, 2.0)
    bad = dict(lora_record(16, 2.0), result={"suite": "lora", "metrics": {"x": {"value": []}}})
    with pytest.warns(ReportWarning) as caught:
        path = write_report(tmp_path, [good, bad, {"nodeid": "broken"}])
    messages = [str(w.message) for w in caught]
    assert any("does not match results.schema.json" in m for m in messages)
    assert sum("skipped record" in m for m in messages) == 2
    assert json.loads(path.read_text())["benchmarks"]  # results.json still written
    summary = (tmp_path / "summary.md").read_text()
    assert "| r8 | ✅ pass |" in summary
    assert "## Report problems" in summary and "broken" in summary


def test_summary_is_appended_to_the_github_step_summary(tmp_path, monkeypatch):
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    write_report(tmp_path / "report", [lora_record(8, 2.0, 2.0)])
    text = step_summary.read_text()
    assert text.startswith("earlier step\n# llmbench report")
    assert "| r8 | ✅ pass |" in text
    assert "![" not in text  # image links do not resolve on a CI page
    assert "![" in (tmp_path / "report" / "summary.md").read_text()


def test_no_step_summary_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    summary = render_report(build_results([lora_record(8, 2.0)]), tmp_path, plots=False)
    assert summary.read_text().startswith("# llmbench report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]


def test_failure_messages_are_listed_under_what_moved(tmp_path):
    record = lora_record(8, 2.5, baseline_loss=2.0)
    record["message"] = "lora_ranks/lora_rank/r8 regressed:\nfinal_train_loss ..."
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid record raises no report warning
        summary = render_report(build_results([record]), tmp_path, plots=False).read_text()
    assert "## What moved" in summary
    assert "final_train_loss ..." in summary


@pytest.mark.parametrize(("value", "unit", "text"), [
    (None, "", "—"), (float("nan"), "", "nan"), (3 * 1024**2, "bytes", "3"), (600 * 1024**2, "bytes", "600.0"),
    (630_000, "bytes", "0.6008"),
    (1234567.0, "params", "1,234,567"), (0.012345, "", "0.01235"), (1234.5, "tokens/s", "1,234"),
])
def test_format_number(value, unit, text):
    assert format_number(value, unit) == text
