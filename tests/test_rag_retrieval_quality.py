"""Retrieval alone on every labelled question: rankings, their scores, top-1 disagreement."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from llmbench.cli import main
from llmbench.profiles import RagSettings
from llmbench.regression.results import Determinism
from llmbench.report.summary import render_summary
from llmbench.report.tables import build_tables
from llmbench.suites.rag.rankings import (
    Ranking,
    mean_scores,
    rankings_of,
    scores_by_question,
    table,
    top1_disagreement,
)
from llmbench.suites.rag.retrieval_quality import rank_all, retrieval_quality


def test_scores_of_each_question_and_their_means():
    rankings = [Ranking("a", ("x",), ("x", "y", "z")),
                Ranking("b", ("x", "y"), ("z", "y")),  # recall 1/2, first hit at rank 2
                Ranking("c", ("x",), ("y", "z")),
                Ranking("d", (), ("x",))]  # unlabelled: not scored
    per_question = scores_by_question(rankings)
    assert per_question["recall_at_k"] == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert per_question["mrr"] == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert mean_scores(rankings)["recall_at_k"] == pytest.approx(0.5)
    assert mean_scores([Ranking("d", (), ("x",))]) == {}


def test_top1_disagreement_counts_the_questions_both_ranked():
    a = [Ranking("q1", ("x",), ("x", "y")), Ranking("q2", ("x",), ("y",)),
         Ranking("q3", ("x",), ())]
    b = [Ranking("q1", ("x",), ("x",)), Ranking("q2", ("x",), ("x", "y")),
         Ranking("q3", ("x",), ("z",)), Ranking("q4", ("x",), ("x",))]
    assert top1_disagreement(a, b) == pytest.approx(2 / 3)  # q2 and q3 (nothing vs z)
    assert top1_disagreement(a, a) == 0.0
    with pytest.raises(ValueError, match="share no question"):
        top1_disagreement(a, [Ranking("other", ("x",), ("x",))])


def test_the_table_has_every_retriever_and_each_pair_s_disagreement():
    rankings = {"dense": [Ranking("q1", ("x",), ("x",)), Ranking("q2", ("y",), ("x",))],
                "bm25": [Ranking("q1", ("x",), ("x",)), Ranking("q2", ("y",), ("y",))]}
    lines = table(rankings).splitlines()
    assert lines[0] == ("| Retriever | Questions | Recall@k | MRR | nDCG | Top-1 differs from "
                        "dense | Top-1 differs from bm25 |")
    assert lines[2] == "| dense | 2 | 0.500 | 0.500 | 0.500 | — | 50% |"
    assert lines[3] == "| bm25 | 2 | 1.000 | 1.000 | 1.000 | 50% | — |"


@pytest.fixture
def settings(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lanyards.md").write_text("Visitors wear red lanyards.\n")
    (corpus / "soup.md").write_text("Fish soup is served on Fridays.\n")
    (corpus / "vans.md").write_text("The electric vans are Limpet and Barnacle.\n")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        '{"id": "a", "question": "What colour lanyards?", "reference": "Red.", '
        '"doc_ids": ["lanyards"]}\n'
        '{"id": "b", "question": "Who serves the soup?", "reference": "x", "doc_ids": ["soup"]}\n'
        '{"id": "c", "question": "Which day?", "reference": "Friday."}\n'
        '{"id": "d", "question": "What are the vans called?", "reference": "Limpet.", '
        '"doc_ids": ["vans"]}\n')
    return RagSettings(corpus=str(corpus), qa=str(qa), k=1, questions=1,
                       retrievers=("none", "bm25"))


def test_every_labelled_question_is_ranked_not_only_the_answered_ones(settings):
    result = retrieval_quality(settings, "bm25")
    assert result.params["questions"] == 3 and result.params["retriever"] == "bm25"
    assert "generator" not in result.params and "latency_requests" not in result.params
    assert [r["qid"] for r in result.artifacts["rankings"]] == ["a", "b", "d"]
    recall = result.metrics["recall_at_k"]
    assert recall.value == pytest.approx(1.0) and recall.determinism is Determinism.SEEDED
    assert result.metrics["questions"].value == 3 and not result.metrics["questions"].compare
    assert rankings_of(result.artifacts["rankings"])[0] == Ranking("a", ("lanyards",),
                                                                   ("lanyards",))


def test_multi_query_is_not_measured_without_a_generator(settings):
    with pytest.raises(ValueError, match="needs a generator"):
        rank_all(dataclasses.replace(settings, retrievers=("multi-query",)), ["multi-query"])


def test_the_summary_says_how_often_retrievers_disagree_on_the_first_document(settings):
    found = retrieval_quality(settings, "bm25").to_dict()
    other = retrieval_quality(settings, "bm25").to_dict()
    other["artifacts"]["rankings"][0]["retrieved"] = ["soup"]
    records = [{"nodeid": f"n{i}", "benchmark_id": f"rag/retrieval_quality/{name}",
                "profile": "p", "device": "cpu", "outcome": "new", "result": result}
               for i, (name, result) in enumerate((("bm25", found), ("dense", other)))]
    tables, _ = build_tables(records)
    summary = render_summary({"benchmarks": records}, tables, [])
    assert ("Top-1 disagreement (share of the questions whose first document differs): "
            "bm25 vs dense 33%.") in summary


def test_the_cli_prints_the_retrieval_table(settings, tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.llmbench.profiles.mine]
        extends = "smoke"
        [tool.llmbench.profiles.mine.rag]
        corpus = "{settings.corpus}"
        qa = "{settings.qa}"
        retrievers = ["bm25"]
        k = 1
        chunk_chars = "none"
        """))
    assert main(["rag-retrieval", "--project", str(tmp_path), "--profile", "mine"]) == 0
    assert "| bm25 | 3 | 1.000 | 1.000 | 1.000 | — |" in capsys.readouterr().out
