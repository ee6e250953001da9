"""The judge-quality runner, the report's judge table and warnings, and the plugin's line."""

from __future__ import annotations

import json
import math

import pytest
from fakes.judge_clients import ScriptedJudgeClient
from report_records import make_record

from llmbench.judges import JudgePairsError, make_judge
from llmbench.profiles import JudgeSettings, get_profile
from llmbench.regression.results import Determinism, Scope
from llmbench.report import write_report
from llmbench.report.judges import summary_notes, terminal_lines
from llmbench.suites.judge import run_judge_quality


def answer_of(kwargs) -> str:
    prompt = kwargs["messages"][-1]["content"]
    return prompt.split("<output", 1)[1].split("</output", 1)[0]


def length_judge():
    """A fake remote judge: longer answers score higher (a judge that measures nothing)."""
    return make_judge("openai:gpt-test", client=ScriptedJudgeClient(
        lambda kw: min(len(answer_of(kw)) / 200, 1.0)))


def test_the_shipped_set_gives_every_pair_type_and_the_graded_correlation():
    result = run_judge_quality(JudgeSettings(items=6, determinism_items=2), "openai:gpt-test",
                               judge=length_judge())
    assert result.suite == "judge"
    for name in ("auc_correctness_right_vs_wrong", "auc_correctness_right_vs_offtopic",
                 "auc_helpfulness_answer_vs_evasive", "auc_helpfulness_answer_vs_offtopic",
                 "spearman_correctness_grade"):
        metric = result.metrics[name]
        assert 0 <= metric.value <= 1 or name.startswith("spearman")
        assert metric.direction.value == "higher" and metric.scope is Scope.QUALITY
        assert metric.determinism is Determinism.NOISY  # a remote judge
    assert result.metrics["seconds_per_judgment"].scope is Scope.COST
    assert result.metrics["repeat_max_abs_diff"].value == 0.0  # the fake repeats itself
    assert result.params["questions"] == 6 and result.params["remote"] is True
    assert result.artifacts["judge"]["aucs"]["correctness_right_vs_wrong"] == \
        result.metrics["auc_correctness_right_vs_wrong"].value
    assert "judge openai:gpt-test on 6 labelled questions" in result.notes[0]
    json.dumps(result.to_dict())


def test_the_graded_correlation_by_hand(tmp_path):
    path = tmp_path / "graded.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [
        {"question": "Q1?", "reference": "R1 and S1.", "right": "R1, S1.", "partial": "R1.",
         "wrong": "T1."},
        {"question": "Q2?", "reference": "R2 and S2.", "right": "R2, S2.", "partial": "S2.",
         "wrong": "T2."}]) + "\n")
    scores = {"R1, S1.": 0.9, "R2, S2.": 0.6, "R1.": 0.7, "S2.": 0.3, "T1.": 0.4, "T2.": 0.1}
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(
        lambda kw: scores[answer_of(kw).lstrip(">").strip()]))
    result = run_judge_quality(JudgeSettings(determinism_items=0), "openai:gpt-test",
                               judge=judge, pairs_path=path)
    # scores right 0.9 0.6, partial 0.7 0.3, wrong 0.4 0.1 rank 6 4 5 2 3 1; grades 2 2 1 1 0 0
    # rank 5.5 5.5 3.5 3.5 1.5 1.5. Pearson of the ranks: 12 / sqrt(17.5 * 16) = 3 / sqrt(17.5)
    assert result.metrics["spearman_correctness_grade"].value == pytest.approx(
        3 / math.sqrt(17.5))  # 0.7171


def test_a_user_set_measures_only_the_pair_types_it_has(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [
        {"question": "Q1?", "reference": "R1.", "right": "A long right answer.",
         "evasive": "No."},
        {"question": "Q2?", "reference": "R2.", "right": "Another long right answer.",
         "evasive": "Eh."}]) + "\n")
    result = run_judge_quality(JudgeSettings(determinism_items=0), "openai:gpt-test",
                               judge=length_judge(), pairs_path=path)
    assert result.metrics["auc_helpfulness_answer_vs_evasive"].value == 1.0
    assert "auc_correctness_right_vs_wrong" not in result.metrics
    assert "repeat_max_abs_diff" not in result.metrics
    assert "Not measured" in result.notes[0]


def test_a_bad_user_set_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "Q?", "reference": "R."}\n')
    with pytest.raises(JudgePairsError, match=r"bad.jsonl:1: no answer to judge"):
        run_judge_quality(JudgeSettings(), "openai:gpt-test", judge=length_judge(),
                          pairs_path=path)


def test_profiles_measure_a_subset_in_smoke_and_embedded():
    smoke, embedded = get_profile("smoke").judge, get_profile("embedded").judge
    assert 1 <= smoke.items < embedded.items < 60  # 60: the whole shipped set
    assert 1 <= smoke.determinism_items <= embedded.determinism_items <= embedded.items
    assert get_profile("embedded").judge.judges[0] == "smollm2-135m"
    with pytest.raises(ValueError, match="JudgeSettings.items"):
        JudgeSettings(items=0)


def quality(spec, aucs, items=60):
    return {"spec": spec, "items": items, "aucs": aucs}


def rag_record(case, spec, aucs):
    from llmbench.regression.results import quality as q

    return make_record(f"rag/rag/{case}", "rag", {"correctness": q(0.6, direction="higher")},
                       artifacts={"judge": {"spec": spec, "quality": quality(spec, aucs)}})


def test_weak_aucs_are_named_next_to_the_scores_and_printed_once():
    weak = {"correctness_right_vs_wrong": 0.64, "correctness_right_vs_offtopic": 0.99}
    records = [rag_record("a", "smollm2-135m", weak), rag_record("b", "smollm2-135m", weak)]
    [note] = summary_notes(records)
    assert note.startswith("⚠️ Judge `smollm2-135m` is below AUC 0.7 on correctness: right vs "
                           "near-miss (0.64)")
    [line] = terminal_lines(records)
    assert line == ("judge smollm2-135m: AUC correctness: right vs near-miss 0.64, correctness: "
                    "right vs off-topic 0.99 (60 labelled questions); below 0.7: correctness: "
                    "right vs near-miss (0.64)")
    strong = [rag_record("c", "openai:x", {"correctness_right_vs_wrong": 0.91})]
    assert summary_notes(strong) == ["Judge `openai:x` AUCs on 60 labelled questions: "
                                     "correctness: right vs near-miss 0.91."]


def test_summary_has_a_judge_quality_table_with_a_plot_and_the_rag_warning(tmp_path):
    from llmbench.regression.results import cost
    from llmbench.regression.results import quality as q

    judge_metrics = {"auc_correctness_right_vs_wrong": q(0.66, direction="higher"),
                     "auc_helpfulness_answer_vs_evasive": q(0.95, direction="higher"),
                     "seconds_per_judgment": cost(0.3, "s")}
    records = [
        make_record("judge_quality/judge_quality/smollm2-135m", "judge", judge_metrics,
                    artifacts={"judge": quality("smollm2-135m",
                                                {"correctness_right_vs_wrong": 0.66})}),
        rag_record("smollm2-135m+bm25", "smollm2-135m", {"correctness_right_vs_wrong": 0.66}),
    ]
    write_report(tmp_path, records)
    summary = (tmp_path / "summary.md").read_text()
    assert "## Judge quality" in summary
    assert "| Judge | Verdict | Time (s) | Correctness AUC: right vs near-miss |" in summary
    assert summary.count("⚠️ Judge `smollm2-135m` is below AUC 0.7") == 2  # both tables
    assert any(p.name.endswith("-auc.png") and "judge" in p.name
               for p in (tmp_path / "plots").iterdir())


JUDGED_BENCH = """
import pytest
from llmbench.regression.results import Result, quality

@pytest.mark.judge
def test_judged(regression, request):
    assert request.config.getoption("judge_pairs") == "mine.jsonl"
    result = Result("judge", {"judge": "smollm2-135m"},
                    {"auc_correctness_right_vs_wrong": quality(0.64, direction="higher")},
                    {"judge": {"spec": "smollm2-135m", "items": 60,
                               "aucs": {"correctness_right_vs_wrong": 0.64}}})
    regression.check(result)
"""


def test_the_terminal_summary_prints_the_judge_and_its_aucs_once(pytester):
    pytester.makepyfile(test_judged=JUDGED_BENCH)
    result = pytester.runpytest_subprocess("--bench-profile", "smoke", "--update-baselines",
                                           "--judge-pairs", "mine.jsonl")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["judge smollm2-135m: AUC correctness: right vs near-miss 0.64 "
                                 "(60 labelled questions); below 0.7: *"])
    assert result.stdout.str().count("judge smollm2-135m: AUC") == 1


class _MemoJudge:
    """A deterministic fake with a memo: records which copy judged what."""

    deterministic = True

    def __init__(self, name="main", log=None):
        self.spec, self.name = "fake-memo", name
        self.log = log if log is not None else []
        self.copies = 0

    def forget(self):
        self.log.append((self.name, "forget"))

    def fresh(self):
        self.copies += 1
        return _MemoJudge(f"fresh{self.copies}", self.log)

    def judge_many(self, key, triples):
        from llmbench.judges.openevals_judge import Judgment

        self.log.append((self.name, key, len(triples)))
        return [Judgment(min(len(a) / 100, 1.0)) for _, a, _ in triples]


def test_every_run_is_timed_from_cold_and_the_repeat_check_uses_fresh_copies():
    judge = _MemoJudge()
    result = run_judge_quality(JudgeSettings(items=6, determinism_items=2), "fake-memo",
                               judge=judge)
    assert judge.log[0] == ("main", "forget")  # cold, as every repeat is
    main = [entry for entry in judge.log if entry[0] == "main"]
    assert [e[1] for e in main] == ["forget", "correctness", "helpfulness"]  # memo kept after
    fresh = {entry[0] for entry in judge.log if entry[0] != "main"}
    assert fresh == {"fresh1", "fresh2"}  # judged twice more, each from scratch
    assert result.metrics["repeat_max_abs_diff"].value == 0.0
