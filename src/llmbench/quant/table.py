"""The report table of a quantization run: one row per precision, in the table's order.

Takes results as plain dicts (``Result.to_dict()``, or the ``result`` of a results.json record)
so the report can build it from a finished run.
"""

from __future__ import annotations

from typing import Any

from llmbench.quant.precisions import PRECISIONS

COLUMNS = ("precision", "footprint MB", "ratio", "eval loss", "Δ vs fp32", "QLoRA loss",
           "peak memory MB", "tokens/s")


def _value(result: dict[str, Any], name: str) -> float | None:
    metric = result["metrics"].get(name)
    return None if metric is None else float(metric["value"])


def quant_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the ``quant`` results among ``results`` (others are ignored).

    Peak memory is the CUDA peak allocated during QLoRA on CUDA, the process RSS during QLoRA
    on CPU; tokens/s is greedy-generation throughput.
    """
    order = {p: i for i, p in enumerate(PRECISIONS)}
    rows = []
    for result in results:
        if result.get("suite") != "quant":
            continue
        footprint = _value(result, "footprint_bytes")
        peak = _value(result, "peak_cuda_allocated_mb")
        rows.append({
            "precision": result["params"]["precision"],
            "footprint MB": None if footprint is None else footprint / 1e6,
            "ratio": _value(result, "footprint_ratio_vs_fp32"),
            "eval loss": _value(result, "eval_loss"),
            "Δ vs fp32": _value(result, "eval_loss_delta_vs_fp32"),
            "QLoRA loss": _value(result, "qlora_final_loss"),
            "peak memory MB": peak if peak is not None else _value(result, "qlora_peak_rss_mb"),
            "tokens/s": _value(result, "generate_tokens_per_s"),
        })
    return sorted(rows, key=lambda row: order.get(row["precision"], len(order)))


FORMATS = {"footprint MB": "{:.1f}", "ratio": "{:.3f}", "eval loss": "{:.4f}",
           "Δ vs fp32": "{:+.4f}", "QLoRA loss": "{:.4f}", "peak memory MB": "{:.0f}",
           "tokens/s": "{:.1f}"}


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    return FORMATS.get(column, "{}").format(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(c, row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)
