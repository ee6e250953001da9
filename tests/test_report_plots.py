"""PNG charts: which charts a table gets, what they draw, and that a broken chart is skipped."""

from __future__ import annotations

import pytest
from report_records import make_record

from llmbench.regression.results import cost, quality
from llmbench.report import ReportWarning
from llmbench.report import plots as plots_module
from llmbench.report.plots import (
    cost_bars_figure,
    curve_points,
    loss_curve_figure,
    score_bars_figure,
    write_plots,
)
from llmbench.report.tables import build_tables

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def lora_tables(with_baseline_curve: bool):
    records = []
    for rank in (8, 128):
        curve = [3.0 - 0.1 * i for i in range(10)]
        rec = make_record(f"lora_ranks/lora_rank/r{rank}", "lora",
                          {"final_train_loss": quality(curve[-1], "nats"),
                           "runtime_s": cost(5.0 + rank / 100, "s"),
                           "peak_cuda_allocated_bytes": cost(2 * 1024**3, "bytes")},
                          baseline={"runtime_s": 5.0, "final_train_loss": 2.1},
                          artifacts={"loss_curve": curve})
        if with_baseline_curve:
            rec["baseline_artifacts"] = {"loss_curve": [c + 0.05 for c in curve]}
        records.append(rec)
    tables, _ = build_tables(records)
    return tables


@pytest.mark.parametrize(("curve", "expected"), [
    ([2.0, 1.5], ([1.0, 2.0], [2.0, 1.5])),
    ([[10, 2.0], [20, 1.5]], ([10.0, 20.0], [2.0, 1.5])),
    ([{"step": 5, "loss": 2.0}], ([5.0], [2.0])),
    (None, ([], [])),
    ("not a curve", ([], [])),
])
def test_curve_points_reads_the_curve_shapes(curve, expected):
    assert curve_points(curve) == expected


def test_loss_chart_has_one_line_per_rank_and_dashed_baselines():
    [table] = lora_tables(with_baseline_curve=True)
    ax = loss_curve_figure(table).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"r8", "r8 baseline", "r128", "r128 baseline"}
    assert lines["r8 baseline"].get_linestyle() == "--"
    assert lines["r8"].get_linestyle() == "-"
    assert lines["r8"].get_color() == lines["r8 baseline"].get_color()
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "training loss (nats)"


def test_loss_chart_without_baseline_curve_has_only_current_lines():
    [table] = lora_tables(with_baseline_curve=False)
    labels = [line.get_label() for line in loss_curve_figure(table).axes[0].get_lines()]
    assert labels == ["r8", "r128"]


def test_cost_bars_show_units_and_baseline_marks():
    [table] = lora_tables(with_baseline_curve=False)
    fig = cost_bars_figure(table)
    ylabels = [ax.get_ylabel() for ax in fig.axes]
    assert ylabels == ["Runtime (s)", "Peak CUDA allocated (MiB)"]
    runtime_ax = fig.axes[0]
    assert [t.get_text() for t in runtime_ax.get_xticklabels()] == ["r8", "r128"]
    assert [round(p.get_height(), 2) for p in runtime_ax.patches] == [5.08, 6.28]
    assert len(runtime_ax.collections) == 2  # one dashed baseline mark per bar
    assert len(fig.axes[1].collections) == 0  # no memory baseline on this hardware


def test_rag_scores_are_grouped_per_configuration():
    records = [make_record(f"rag/rag_config/{name}", "rag",
                           {"bleu": quality(b, direction="higher"),
                            "correctness": quality(c, direction="higher")})
               for name, b, c in (("bm25", 0.2, 0.6), ("dense", 0.3, 0.7))]
    [table], _ = build_tables(records)
    ax = score_bars_figure(table).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["BLEU", "Correctness"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bm25", "dense"]
    assert sorted(round(p.get_height(), 2) for p in ax.patches) == [0.2, 0.3, 0.6, 0.7]


def test_write_plots_saves_pngs_and_removes_stale_ones(tmp_path):
    stale = tmp_path / "plots" / "old-run.png"
    stale.parent.mkdir()
    stale.write_bytes(PNG_MAGIC)
    [table] = lora_tables(with_baseline_curve=True)
    written = write_plots([table], tmp_path)
    paths = written[table.key]
    assert [p.name for p in paths] == ["lora-lora_ranks-lora_rank-cpu-smoke-loss.png",
                                       "lora-lora_ranks-lora_rank-cpu-smoke-cost.png"]
    for path in paths:
        assert (tmp_path / path).read_bytes()[:8] == PNG_MAGIC
    assert not stale.exists()


def test_a_failing_chart_is_skipped_with_a_warning(tmp_path, monkeypatch):
    def broken(table):
        raise RuntimeError("boom")

    monkeypatch.setattr(plots_module, "CHARTS", (("loss", broken),
                                                 ("cost", cost_bars_figure)))
    [table] = lora_tables(with_baseline_curve=False)
    problems: list[str] = []
    with pytest.warns(ReportWarning, match="loss chart .* skipped: RuntimeError: boom"):
        written = write_plots([table], tmp_path, problems)
    assert [p.name for p in written[table.key]] == ["lora-lora_ranks-lora_rank-cpu-smoke-cost.png"]
    assert problems and "boom" in problems[0]
