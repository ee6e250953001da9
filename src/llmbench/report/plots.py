"""PNG charts for the report, drawn headless with matplotlib's object API (no pyplot state).

Per table: the training-loss curves of all cases on one chart (the baseline's curve dashed,
when the record carries one), bar panels for cost metrics (runtime, memory, throughput) with the
baseline value marked, and grouped bars for 0..1 quality scores (RAG).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from llmbench.report.summary import format_number
from llmbench.report.tables import ReportWarning, Table, TableColumn, display_value, is_finite

DPI = 110


def curve_points(curve: Any) -> tuple[list[float], list[float]]:
    """A loss curve as (steps, values): a list of numbers (steps 1..n), of [step, value]
    pairs, or of {"step": s, "loss": v} dicts."""
    if not isinstance(curve, list) or not curve:
        return [], []
    steps: list[float] = []
    values: list[float] = []
    for i, point in enumerate(curve, start=1):
        if isinstance(point, dict):
            step, value = point.get("step", i), point.get("loss", point.get("value"))
        elif isinstance(point, (list, tuple)) and len(point) == 2:
            step, value = point
        else:
            step, value = i, point
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            steps.append(float(step))
            values.append(float(value))
    return steps, values


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # imported late: plotting is optional (report extra)

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _subtitle(table: Table) -> str:
    return f"{table.benchmark} · {table.device} · profile {table.profile}"


def loss_curve_figure(table: Table):
    name = table.layout.curve
    if not name:
        return None
    curves = [(row, curve_points(row.artifact(name)), curve_points(row.baseline_artifact(name)))
              for row in table.rows]
    curves = [c for c in curves if c[1][0]]
    if not curves:
        return None
    fig = _figure(7.5, 4.5)
    ax = fig.add_subplot()
    palette = [f"C{i}" for i in range(10)]
    for i, (row, (steps, values), (base_steps, base_values)) in enumerate(curves):
        color = palette[i % len(palette)]
        ax.plot(steps, values, color=color, linewidth=1.8, label=row.label)
        if base_values:
            ax.plot(base_steps, base_values, color=color, linewidth=1.2, linestyle="--",
                    alpha=0.8, label=f"{row.label} baseline")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training step")
    unit = next((c.unit for c in table.columns if c.header == table.layout.curve_unit_from), "")
    ax.set_ylabel(f"training loss ({unit})" if unit else "training loss")
    ax.set_title(f"Training loss per {table.layout.label.lower()}\n{_subtitle(table)}",
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if len(curves) > 4 else 1)
    return fig


def _bar_values(table: Table, column: TableColumn) -> tuple[list[str], list[float],
                                                            list[float | None]]:
    labels, values, baselines = [], [], []
    for row in table.rows:
        cell = row.cells.get(column.header)
        if cell is None or not is_finite(cell.value):
            continue
        labels.append(row.label)
        values.append(display_value(cell.value, cell.unit))
        base = cell.baseline if is_finite(cell.baseline) else None
        baselines.append(display_value(base, cell.unit) if base is not None else None)
    return labels, values, baselines


def _rotate_if_long(ax, labels: list[str]) -> None:
    if sum(len(label) for label in labels) > 24:
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")


def cost_bars_figure(table: Table):
    panels = [(c, *_bar_values(table, c)) for c in table.chart_columns("bars")]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig = _figure(max(4.0, 3.6 * len(panels)), 4.2)
    has_baseline = any(b is not None for panel in panels for b in panel[3])
    fig.suptitle(f"Cost per {table.layout.label.lower()} — {_subtitle(table)}"
                 + ("\n(dashed line: baseline value)" if has_baseline else ""), fontsize=10)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (column, labels, values, baselines) in zip(axes, panels):
        bars = ax.bar(labels, values, color=[f"C{i % 10}" for i in range(len(values))])
        ax.bar_label(bars, labels=[format_number(v) for v in values], fontsize=7, padding=2)
        for bar, base in zip(bars, baselines):
            if base is not None:
                x0, width = bar.get_x(), bar.get_width()
                ax.hlines(base, x0, x0 + width, colors="black", linestyles="--", linewidth=1.2)
        ax.set_title(column.header, fontsize=9)
        ax.set_ylabel(column.title)
        ax.set_xlabel(table.layout.label.lower())
        ax.margins(y=0.15)
        ax.grid(True, axis="y", alpha=0.3)
        _rotate_if_long(ax, labels)
    return fig


def _columns_with_values(table: Table, chart: str):
    return [c for c in table.chart_columns(chart)
            if any(is_finite(getattr(r.cells.get(c.header), "value", None))
                   for r in table.rows)]


def score_bars_figure(table: Table):
    if table.suite == "judge":  # judge_auc_figure draws it, with the chance and weak lines
        return None
    columns = _columns_with_values(table, "scores")
    if not columns:
        return None
    labels = [row.label for row in table.rows]
    fig = _figure(min(14.0, 4.0 + 0.25 * len(labels) * len(columns)), 4.8)
    ax = fig.add_subplot()
    width = 0.8 / len(columns)
    for j, column in enumerate(columns):
        xs, heights = [], []
        for i, row in enumerate(table.rows):
            cell = row.cells.get(column.header)
            if cell is not None and is_finite(cell.value):
                xs.append(i - 0.4 + width * (j + 0.5))
                heights.append(cell.value)
        ax.bar(xs, heights, width=width, label=column.title, color=f"C{j % 10}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("score (higher is better)")
    ax.set_xlabel(table.layout.label.lower())
    ax.set_title(f"Quality scores per {table.layout.label.lower()}\n{_subtitle(table)}",
                 fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _rotate_if_long(ax, labels)
    return fig


def judge_auc_figure(table: Table):
    """Judge quality: one group of bars per pair type, one bar per judge, with the chance
    level (0.5) and the line below which the report calls a judge weak (0.7)."""
    from llmbench.report.judges import WEAK_AUC

    if table.suite != "judge":
        return None
    columns = _columns_with_values(table, "scores")
    if not columns:
        return None
    fig = _figure(max(6.5, 1.6 * len(columns) + 0.6 * len(table.rows)), 4.8)
    ax = fig.add_subplot()
    width = 0.8 / len(table.rows)
    for j, row in enumerate(table.rows):
        xs, heights = [], []
        for i, column in enumerate(columns):
            cell = row.cells.get(column.header)
            if cell is not None and is_finite(cell.value):
                xs.append(i - 0.4 + width * (j + 0.5))
                heights.append(cell.value)
        bars = ax.bar(xs, heights, width=width, label=row.label, color=f"C{j % 10}")
        ax.bar_label(bars, labels=[f"{h:.2f}" for h in heights], fontsize=7, padding=2)
    ax.axhline(WEAK_AUC, color="firebrick", linestyle="--", linewidth=1,
               label=f"weak below {WEAK_AUC}")
    ax.axhline(0.5, color="gray", linestyle=":", linewidth=1, label="chance (AUC 0.5)")
    ax.set_xticks(range(len(columns)), [c.header.replace(": ", ":\n") for c in columns],
                  fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("AUC / Spearman (higher is better)")
    ax.set_title(f"How well each judge separates labelled answers\n{_subtitle(table)}",
                 fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


CHARTS = (("loss", loss_curve_figure), ("cost", cost_bars_figure),
          ("scores", score_bars_figure), ("auc", judge_auc_figure))


def _file_stem(table: Table) -> str:
    raw = f"{table.suite}-{table.benchmark}-{table.device}-{table.profile}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-")


def write_plots(tables: list[Table], report_dir: Path,
                problems: list[str] | None = None) -> dict[str, list[Path]]:
    """Save every chart as ``report_dir/plots/*.png``; returns table key -> relative paths.

    A chart that fails is skipped with a warning (and noted in ``problems``)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        note = "plots skipped: matplotlib is not installed (pip install 'llmbench[report]')"
        warnings.warn(note, ReportWarning, stacklevel=2)
        if problems is not None:
            problems.append(note)
        return {}
    plot_dir = Path(report_dir) / "plots"
    for stale in plot_dir.glob("*.png"):  # charts of an earlier run in the same directory
        stale.unlink()
    written: dict[str, list[Path]] = {}
    for table in tables:
        for kind, draw in CHARTS:
            try:
                fig = draw(table)
                if fig is None:
                    continue
                plot_dir.mkdir(parents=True, exist_ok=True)
                path = plot_dir / f"{_file_stem(table)}-{kind}.png"
                fig.savefig(path)
            except Exception as exc:  # a chart must never break the run or the rest
                note = f"{kind} chart for {table.key} skipped: {type(exc).__name__}: {exc}"
                warnings.warn(note, ReportWarning, stacklevel=2)
                if problems is not None:
                    problems.append(note)
                continue
            written.setdefault(table.key, []).append(path.relative_to(report_dir))
    return written
