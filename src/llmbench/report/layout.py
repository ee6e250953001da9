"""Which metric goes in which report column, per suite: the one table to edit when names change.

Each column lists metric names in order of preference; the first one a record has is shown.
Metrics that no column claims go to a second, folded "all other metrics" table under their own
names, so a renamed or new metric still shows up until it is added here.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmbench.profiles import ALL_PRECISIONS


@dataclass(frozen=True)
class Column:
    header: str
    metrics: tuple[str, ...]
    # "bars": drawn as its own bar panel (cost: time, memory, throughput);
    # "scores": one group in the grouped score chart (0..1 quality scores).
    chart: str | None = None


@dataclass(frozen=True)
class SuiteLayout:
    title: str
    label: str  # header of the first column (the benchmark case: r8, nf4, bm25-smollm2-135m)
    columns: tuple[Column, ...]
    curve: str | None = None  # artifact holding a per-step training-loss curve
    curve_unit_from: str = "Final loss"  # the column whose unit the curve shares
    order: tuple[str, ...] = ()  # preferred row order; other cases follow in natural order


LAYOUTS: dict[str, SuiteLayout] = {
    "lora": SuiteLayout(
        title="LoRA ranks",
        label="Rank",
        curve="loss_curve",
        columns=(
            Column("Final loss", ("final_train_loss",)),
            Column("Eval loss", ("eval_loss",)),
            Column("Settling step", ("settling_step",)),
            Column("Runtime", ("runtime_s",), chart="bars"),
            Column("Tokens/s", ("tokens_per_s",), chart="bars"),
            Column("Peak CUDA allocated", ("peak_cuda_allocated_mb", "peak_cuda_allocated_bytes"),
                   chart="bars"),
            Column("Peak CUDA reserved", ("peak_cuda_reserved_mb", "peak_cuda_reserved_bytes")),
            Column("RSS growth", ("rss_growth_mb",), chart="bars"),
            Column("RSS mean", ("rss_mean_mb", "rss_mean_bytes")),
            Column("RSS max", ("rss_max_mb", "rss_max_bytes")),
            Column("Trainable params", ("trainable_params",)),
        ),
    ),
    "quant": SuiteLayout(
        title="Quantization precisions",
        label="Precision",
        order=ALL_PRECISIONS,
        columns=(
            Column("Footprint", ("footprint_bytes",), chart="bars"),
            Column("Footprint vs fp32", ("footprint_ratio_vs_fp32", "footprint_ratio")),
            Column("Eval loss", ("eval_loss",)),
            Column("Δ eval loss vs fp32", ("eval_loss_delta_vs_fp32",)),
            Column("Perplexity", ("perplexity",)),
            Column("QLoRA loss", ("qlora_final_loss", "qlora_loss")),
            Column("Peak CUDA allocated", ("peak_cuda_allocated_mb",), chart="bars"),
            Column("CUDA model memory", ("cuda_model_mb",)),
            Column("QLoRA peak RSS", ("qlora_peak_rss_mb",), chart="bars"),
            Column("Forward", ("forward_ms",)),
            Column("Generate tokens/s", ("generate_tokens_per_s",), chart="bars"),
            Column("QLoRA runtime", ("qlora_runtime_s",), chart="bars"),
            Column("QLoRA tokens/s", ("qlora_tokens_per_s",)),
        ),
    ),
    "rag": SuiteLayout(
        title="RAG experiments",
        label="Experiment",
        columns=(
            Column("BLEU", ("bleu",), chart="scores"),
            Column("Correctness", ("correctness",), chart="scores"),
            Column("Helpfulness", ("helpfulness",), chart="scores"),
            Column("METEOR", ("meteor",), chart="scores"),
            Column("ROUGE-L", ("rougeL", "rouge_l"), chart="scores"),
            Column("Tokens", ("total_tokens", "tokens"), chart="bars"),
            Column("P50 latency", ("latency_p50_s",), chart="bars"),
            Column("ROUGE-1", ("rouge1",)),
            Column("ROUGE-2", ("rouge2",)),
            Column("Recall@k", ("recall_at_k", "recall"), chart="scores"),
            Column("MRR", ("mrr",)),
            Column("nDCG", ("ndcg",)),
            Column("P95 latency", ("latency_p95_s",)),
            Column("Batch time per question", ("batch_seconds_per_question",)),
        ),
    ),
    "judge": SuiteLayout(
        title="Judge quality",
        label="Judge",
        columns=(
            Column("Correctness AUC: right vs near-miss", ("auc_correctness_right_vs_wrong",),
                   chart="scores"),
            Column("Correctness AUC: right vs off-topic", ("auc_correctness_right_vs_offtopic",),
                   chart="scores"),
            Column("Helpfulness AUC: answer vs evasive", ("auc_helpfulness_answer_vs_evasive",),
                   chart="scores"),
            Column("Helpfulness AUC: answer vs off-topic",
                   ("auc_helpfulness_answer_vs_offtopic",), chart="scores"),
            Column("Spearman vs graded label", ("spearman_correctness_grade",), chart="scores"),
            Column("Time per judgment", ("seconds_per_judgment",), chart="bars"),
            Column("Repeat difference", ("repeat_max_abs_diff",)),
        ),
    ),
    "generation": SuiteLayout(
        title="Generation speed (ours vs model.generate, same session)",
        label="Case",
        columns=(
            Column("Ours tokens/s", ("ours_tokens_per_s",), chart="bars"),
            Column("HF one-at-a-time tokens/s", ("hf_single_tokens_per_s",), chart="bars"),
            Column("HF same batches tokens/s", ("hf_batched_tokens_per_s",), chart="bars"),
            Column("Speedup vs one-at-a-time", ("speedup_vs_single",)),
            Column("Ours / HF batched", ("ratio_vs_hf_batched",)),
            Column("Outputs identical", ("outputs_match_single",)),
        ),
    ),
}

GENERIC = SuiteLayout(title="Other benchmarks", label="Case", columns=())


def layout_for(suite: str | None) -> SuiteLayout:
    if suite in LAYOUTS:
        return LAYOUTS[suite]
    return SuiteLayout(title=f"{suite} benchmarks" if suite else GENERIC.title,
                       label=GENERIC.label, columns=())
