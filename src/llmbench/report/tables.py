"""Turn results.json records into per-suite tables that the summary and the plots both draw.

A table holds the records of one benchmark function (``module/function``) on one device and
profile: one row per case (r8, nf4, ...), one column per metric the layout knows (see
``layout.py``); metrics the layout does not know are kept as extra columns.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from llmbench.report.layout import Column, SuiteLayout, layout_for

SUITE_ORDER = ("lora", "quant", "rag", "judge", "generation")
MIB = 1024 * 1024


class ReportWarning(UserWarning):
    """A record the report could not use; the run and the rest of the report go on."""


@dataclass
class Cell:
    metric: str
    value: float | None  # None when the metric is missing from the result
    unit: str = ""
    verdict: str | None = None
    baseline: float | None = None
    change: float | None = None

    @property
    def relative_change(self) -> float | None:
        if self.change is None or not self.baseline:
            return None
        return self.change / abs(self.baseline)


@dataclass
class Row:
    label: str
    record: dict[str, Any]
    cells: dict[str, Cell] = field(default_factory=dict)  # by column header

    @property
    def outcome(self) -> str:
        return self.record["outcome"]

    def artifact(self, name: str) -> Any:
        return ((self.record.get("result") or {}).get("artifacts") or {}).get(name)

    def baseline_artifact(self, name: str) -> Any:
        return (self.record.get("baseline_artifacts") or {}).get(name)


@dataclass
class TableColumn:
    header: str
    unit: str
    chart: str | None = None

    @property
    def title(self) -> str:
        """Header with its unit, unless the header already says it (Tokens/s, Settling step)."""
        unit = display_unit(self.unit)
        words = {unit.lower(), unit.lower().removesuffix("s") if len(unit) > 3 else unit.lower()}
        if not unit or any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", self.header.lower())
                           for w in words):
            return self.header
        return f"{self.header} ({unit})"


@dataclass
class Table:
    suite: str
    layout: SuiteLayout
    benchmark: str  # module/function
    device: str
    profile: str
    columns: list[TableColumn] = field(default_factory=list)  # the layout's, in its order
    extra_columns: list[TableColumn] = field(default_factory=list)  # metrics it does not know
    rows: list[Row] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.benchmark}/{self.device}/{self.profile}"

    def chart_columns(self, chart: str) -> list[TableColumn]:
        return [c for c in self.columns if c.chart == chart]


def display_unit(unit: str) -> str:
    return "MiB" if unit == "bytes" else unit


def display_value(value: float, unit: str) -> float:
    return value / MIB if unit == "bytes" else value


def split_benchmark_id(benchmark_id: str) -> tuple[str, str]:
    """``module/function/case`` -> (``module/function``, ``case``)."""
    parts = benchmark_id.split("/")
    return "/".join(parts[:2]), "/".join(parts[2:]) or "default"


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):  # non-finite values are stored as "nan", "inf", "-inf"
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _natural_key(text: str) -> list[Any]:
    return [(0, int(tok), "") if tok.isdigit() else (1, 0, tok)
            for tok in re.split(r"(\d+)", text) if tok]


def row_cells(record: dict[str, Any]) -> dict[str, Cell]:
    """Every metric of a record, by metric name, with its comparison against the baseline."""
    result = record.get("result") or {}
    metrics = result.get("metrics") or {}
    comparison = record.get("comparison") or {}
    cells: dict[str, Cell] = {}
    for name in sorted(set(metrics) | set(comparison)):
        metric = metrics.get(name) or {}
        compared = comparison.get(name) or {}
        cells[name] = Cell(
            metric=name,
            value=_number(metric.get("value")) if metric else None,
            unit=metric.get("unit") or compared.get("unit") or "",
            verdict=compared.get("verdict"),
            baseline=_number(compared.get("baseline")),
            change=_number(compared.get("change")),
        )
    return cells


def _chosen(column: Column, cells: dict[str, Cell]) -> str | None:
    return next((name for name in column.metrics if name in cells), None)


def _build_table(suite: str, benchmark: str, device: str, profile: str,
                 entries: list[tuple[str, dict[str, Any], dict[str, Cell]]]) -> Table:
    layout = layout_for(suite)
    table = Table(suite, layout, benchmark, device, profile)
    order = {label: i for i, label in enumerate(layout.order)}
    entries = sorted(entries, key=lambda e: (order.get(e[0], len(order)), _natural_key(e[0])))
    claimed: list[set[str]] = [set() for _ in entries]
    for column in layout.columns:
        chosen = [_chosen(column, cells) for _, _, cells in entries]
        if not any(chosen):
            continue
        unit = next(entries[i][2][name].unit for i, name in enumerate(chosen) if name)
        table.columns.append(TableColumn(column.header, unit, column.chart))
        for i, name in enumerate(chosen):
            if name:
                claimed[i].add(name)
    extras = sorted({name for (_, _, cells), taken in zip(entries, claimed)
                     for name in cells if name not in taken})
    for name in extras:
        unit = next(cells[name].unit for _, _, cells in entries if name in cells)
        table.extra_columns.append(TableColumn(name, unit))
    if not table.columns:  # a suite without a layout, or none of its names matched
        table.columns, table.extra_columns = table.extra_columns, []
    for (label, record, cells), taken in zip(entries, claimed):
        row = Row(label, record)
        for column in layout.columns:
            name = _chosen(column, cells)
            if name:
                row.cells[column.header] = cells[name]
        for name in extras:
            if name in cells and name not in taken:
                row.cells[name] = cells[name]
        table.rows.append(row)
    return table


def build_tables(records: list[dict[str, Any]]) -> tuple[list[Table], list[str]]:
    """Group records into tables; a record that cannot be read is skipped with a warning.

    Returns the tables (lora, quant, rag first, then any other suite) and the problems met.
    """
    groups: dict[tuple[str, str, str, str], list[tuple[str, dict[str, Any], dict[str, Cell]]]]
    groups = {}
    problems: list[str] = []
    for index, record in enumerate(records):
        try:
            benchmark, case = split_benchmark_id(record["benchmark_id"])
            suite = (record.get("result") or {}).get("suite") or "other"
            key = (suite, benchmark, record["device"], record["profile"])
            cells = row_cells(record)
            record["outcome"]  # noqa: B018 - every row shows its verdict
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = record.get("nodeid", f"#{index}") if isinstance(record, dict) else f"#{index}"
            problem = f"report skipped record {name}: {type(exc).__name__}: {exc}"
            warnings.warn(problem, ReportWarning, stacklevel=2)
            problems.append(problem)
            continue
        groups.setdefault(key, []).append((case, record, cells))

    def suite_rank(key: tuple[str, str, str, str]) -> tuple[int, tuple[str, ...]]:
        rank = SUITE_ORDER.index(key[0]) if key[0] in SUITE_ORDER else len(SUITE_ORDER)
        return rank, key

    ordered = sorted(groups.items(), key=lambda kv: suite_rank(kv[0]))
    return [_build_table(*key, entries) for key, entries in ordered], problems


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
