"""Ranking RAG configurations by the mean of min-max normalized scores."""

from __future__ import annotations

import math

import pytest

from llmbench.report.ranking import rank_configurations

# The users' published table (gpt-4o-mini over their own documents).
PUBLISHED = {
    "gpt-4o-mini + multi-query": {"bleu": 0.18, "correctness": 0.60, "helpfulness": 0.95,
                                  "meteor": 0.45, "rougeL": 0.24},
    "gpt-4o-mini + dense": {"bleu": 0.18, "correctness": 0.50, "helpfulness": 0.90,
                            "meteor": 0.46, "rougeL": 0.24},
    "gpt-4o-mini (no retrieval)": {"bleu": 0.12, "correctness": 0.30, "helpfulness": 0.90,
                                   "meteor": 0.33, "rougeL": 0.16},
}


def test_published_table_ranks_multi_query_first():
    ranked = rank_configurations(PUBLISHED)
    assert [r.name for r in ranked] == ["gpt-4o-mini + multi-query", "gpt-4o-mini + dense",
                                        "gpt-4o-mini (no retrieval)"]
    assert [r.rank for r in ranked] == [1, 2, 3]
    best, middle, worst = ranked
    # multi-query: bleu 1, correctness 1, helpfulness 1, meteor 12/13, rouge 1
    assert best.score == pytest.approx((4 + 12 / 13) / 5)
    assert middle.normalized["helpfulness"] == 0.0 and middle.normalized["meteor"] == 1.0
    assert worst.score == 0.0


def test_lower_is_better_metrics_are_flipped():
    rows = {"fast": {"latency": 1.0}, "slow": {"latency": 3.0}, "mid": {"latency": 2.0}}
    ranked = rank_configurations(rows, metrics=["latency"], lower_is_better=["latency"])
    assert [(r.name, r.score) for r in ranked] == [("fast", 1.0), ("mid", 0.5), ("slow", 0.0)]


def test_metrics_equal_everywhere_are_left_out_and_missing_ones_skipped():
    rows = {"a": {"bleu": 0.2, "meteor": 0.5, "correctness": 0.9},
            "b": {"bleu": 0.2, "meteor": 0.1, "correctness": float("nan")},
            "c": {"bleu": 0.2}}
    ranked = {r.name: r for r in rank_configurations(rows)}
    assert ranked["a"].normalized == {"meteor": 1.0}  # bleu does not separate; b lacks correctness
    assert ranked["b"].normalized == {"meteor": 0.0}
    assert math.isnan(ranked["c"].score) and ranked["c"].rank == 3


def test_ties_are_broken_by_name():
    rows = {"zeta": {"bleu": 0.5, "rougeL": 0.1}, "alpha": {"bleu": 0.1, "rougeL": 0.5}}
    assert [r.name for r in rank_configurations(rows)] == ["alpha", "zeta"]


def test_rank_rag_results_reads_result_dicts_by_label():
    from llmbench.regression.results import Result, quality
    from llmbench.report.ranking import rank_rag_results

    results = [Result("rag", {}, {name: quality(value, "score", "higher")
                                  for name, value in metrics.items()},
                      {"config": {"label": label}}).to_dict()
               for label, metrics in PUBLISHED.items()]
    results[2]["metrics"]["meteor"]["value"] = "nan"  # how a non-finite value is written
    ranked = rank_rag_results(results)
    assert [r.name for r in ranked][0] == "gpt-4o-mini + multi-query"
    assert "meteor" not in ranked[-1].normalized


def test_summary_md_ranks_rag_configurations(tmp_path):
    from report_records import make_record

    from llmbench.regression.results import quality
    from llmbench.report import write_report

    records = [make_record(f"rag/rag/smollm2-135m+{name}", "rag",
                           {"bleu": quality(bleu, direction="higher"),
                            "rougeL": quality(rouge, direction="higher")},
                           artifacts={"config": {"label": f"smollm2-135m + {name}"}})
               for name, bleu, rouge in (("none", 0.05, 0.2), ("bm25", 0.2, 0.4),
                                         ("dense", 0.1, 0.3))]
    write_report(tmp_path, records)
    summary = (tmp_path / "summary.md").read_text()
    ranking = summary.split("Ranking (")[1]
    assert ranking.index("smollm2-135m + bm25") < ranking.index("smollm2-135m + dense") \
        < ranking.index("smollm2-135m + none")
