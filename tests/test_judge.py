"""The openevals judge plumbing, repeats, spread, tolerance and AUC, with fake clients."""

from __future__ import annotations

import json
import math

import pytest
from fakes.judge_clients import ScriptedJudgeClient, keyword_judge
from openevals.prompts import CORRECTNESS_PROMPT, RAG_HELPFULNESS_PROMPT

from llmbench.judges import (
    JUDGE_SCORE_ABS_TOL,
    JudgeUnavailable,
    LabelledItem,
    UnknownJudgeError,
    discrimination,
    judge_records,
    make_judge,
    measure_discrimination,
)
from llmbench.regression.results import Direction, Scope

RECORDS = [
    {"question": "Who founded Nordwick?", "answer": "Ilse Varnum founded it.",
     "reference": "Ilse Varnum and Tobias Eke founded Nordwick.", "contexts": ["..."]},
    {"question": "How long is the tank?", "answer": "It is 90 metres long.",
     "reference": "The tank is 90 metres long.", "contexts": []},
    {"question": "When does the shuttle leave?", "answer": "I do not know.",
     "reference": "The shuttle leaves at 07:40.", "contexts": []},
]


@pytest.fixture(autouse=True)
def _fresh_memo(monkeypatch):
    monkeypatch.setattr(discrimination, "_MEMO", {})


def first_rubric_line(prompt: str) -> str:
    return prompt.strip().splitlines()[0]


def test_correctness_uses_openevals_prompt_with_reference_and_a_json_schema():
    client = ScriptedJudgeClient([0.75])
    judge = make_judge("openai:gpt-test", client=client)
    judgment = judge.judge("correctness", "Q-text?", "A-text.", "R-text.")
    assert judgment.score == 0.75 and judgment.comment == "scripted 0.75"
    call = client.calls[0]
    assert call["model"] == "gpt-test"
    assert call["response_format"]["type"] == "json_schema"
    schema = call["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["score"]["type"] == "number"  # continuous, not boolean
    prompt = client.prompt_of(0)
    assert prompt.startswith(first_rubric_line(CORRECTNESS_PROMPT))
    assert "<input>\nQ-text?\n</input>" in prompt and "A-text." in prompt
    assert "<reference_outputs>\nR-text.\n</reference_outputs>" in prompt


def test_helpfulness_uses_rag_helpfulness_prompt_without_reference():
    client = ScriptedJudgeClient([0.5])
    make_judge("openai:gpt-test", client=client).judge("helpfulness", "Q?", "A.", "R-text.")
    prompt = client.prompt_of(0)
    assert prompt.startswith(first_rubric_line(RAG_HELPFULNESS_PROMPT))
    assert "R-text." not in prompt


@pytest.mark.parametrize("bad", ["not json", json.dumps({"score": 0.5}),  # no reasoning
                                 json.dumps({"reasoning": "r", "score": 1.5}),
                                 json.dumps({"reasoning": "r", "score": "high"}),
                                 json.dumps({"reasoning": "r", "score": True})])
def test_an_unparseable_reply_is_retried(bad):
    client = ScriptedJudgeClient([bad, 0.25])
    judgment = make_judge("openai:gpt-test", client=client).judge("correctness", "Q", "A", "R")
    assert (judgment.score, judgment.attempts) == (0.25, 2)


def test_replies_that_never_parse_are_unscored_with_the_reason():
    client = ScriptedJudgeClient(["nope"] * 3)
    judgment = make_judge("openai:gpt-test", client=client, attempts=3).judge(
        "correctness", "Q", "A", "R")
    assert judgment.score is None and judgment.attempts == 3
    assert judgment.error.startswith("unparseable reply")


def test_programming_errors_are_not_swallowed():
    client = ScriptedJudgeClient([ZeroDivisionError("bug")])
    with pytest.raises(ZeroDivisionError):
        make_judge("openai:gpt-test", client=client).judge("correctness", "Q", "A", "R")


def test_unknown_judge_spec_names_the_option_and_valid_forms():
    with pytest.raises(UnknownJudgeError, match=r"--judge.*smollm2-135m.*hf:.*openai:<model>"):
        make_judge("gpt4")
    with pytest.raises(UnknownJudgeError):
        make_judge("openai:")


def test_openai_judge_without_key_is_unavailable_with_the_reason(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LLMBENCH_JUDGE_OPENAI_BASE_URL", raising=False)
    with pytest.raises(JudgeUnavailable, match="OPENAI_API_KEY"):
        make_judge("openai:o3-mini")


def test_openai_judge_reads_key_and_base_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    judge = make_judge("openai:o3-mini")
    assert judge.model == "o3-mini" and not judge.yes_no
    assert str(judge.client.base_url) == "http://127.0.0.1:9/v1/"


def test_judge_records_scores_every_question_and_key_with_repeats():
    client = keyword_judge({"Ilse": 0.9, "90": 0.8}, default=0.1)
    report = judge_records(RECORDS, "openai:gpt-test", repeats=2,
                           judge=make_judge("openai:gpt-test", client=client))
    assert len(client.calls) == len(RECORDS) * 2 * 2  # questions x keys x repeats
    correctness = report.metrics["correctness"]
    assert correctness.value == pytest.approx((0.9 + 0.8 + 0.1) / 3)
    assert correctness.direction is Direction.HIGHER and correctness.scope is Scope.QUALITY
    assert correctness.abs_tol == JUDGE_SCORE_ABS_TOL  # declared; the plugin compares
    assert correctness.samples == [pytest.approx(0.6)] * 2  # each repeat's mean
    assert report.metrics["correctness_unscored"].value == 0
    assert not report.metrics["correctness_unscored"].compare
    assert report.metrics["correctness_spread"].value == 0
    feedback = report.artifacts["feedback"]["correctness"]
    assert feedback["scores"] == [[0.9, 0.9], [0.8, 0.8], [0.1, 0.1]]
    assert feedback["spread_per_question"] == [0.0, 0.0, 0.0]
    assert report.artifacts["repeats"] == 2
    assert report.artifacts["questions"] == [r["question"] for r in RECORDS]
    json.dumps(report.artifacts)  # artifacts must be JSON-able


def test_repeats_of_a_noisy_judge_are_samples_of_an_ordinary_metric():
    scores = iter([0.2] * 3 + [0.8] * 3 + [0.5] * 6)  # correctness: repeat 1, repeat 2
    client = ScriptedJudgeClient(lambda _: next(scores))
    report = judge_records(RECORDS, "openai:gpt-test", repeats=2,
                           judge=make_judge("openai:gpt-test", client=client))
    correctness = report.metrics["correctness"]
    assert correctness.samples == [pytest.approx(0.2), pytest.approx(0.8)]
    assert correctness.value == pytest.approx(0.5)  # the median of the repeats' means
    assert correctness.abs_tol == JUDGE_SCORE_ABS_TOL
    spread = math.sqrt(((0.2 - 0.5) ** 2 + (0.8 - 0.5) ** 2) / 1)  # sample std of (0.2, 0.8)
    assert report.artifacts["feedback"]["correctness"]["spread_per_question"] == \
        [pytest.approx(spread)] * 3
    assert report.metrics["correctness_spread"].value == pytest.approx(spread)
    assert not report.metrics["correctness_spread"].compare


def test_one_run_records_no_samples_and_the_judge_spec():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: 0.5))
    outcome = judge_records(RECORDS, "openai:gpt-test", judge=judge)
    assert outcome.metrics["correctness"].samples is None
    assert outcome.params == {"spec": "openai:gpt-test", "repeats": 1}
    assert "quality" not in outcome.artifacts  # no labelled answers given: no AUCs


def test_unscored_questions_are_counted_and_left_out_of_the_mean():
    def reply(kwargs):
        prompt = kwargs["messages"][-1]["content"]
        return "garbage" if "shuttle" in prompt else 0.6

    report = judge_records(RECORDS, "openai:gpt-test", repeats=1,
                           judge=make_judge("openai:gpt-test", client=ScriptedJudgeClient(reply)))
    assert report.metrics["correctness"].value == pytest.approx(0.6)
    assert report.metrics["correctness_unscored"].value == 1
    feedback = report.artifacts["feedback"]["correctness"]
    assert feedback["unscored_questions"] == 1
    assert feedback["unscored_judgments"] == 1
    [(reason, count)] = feedback["unscored_reasons"].items()
    assert reason.startswith("unparseable reply") and count == 1
    assert feedback["scores"][2] == [None]


def test_each_scored_question_keeps_its_score_by_id_for_a_paired_comparison():
    scores = iter([0.2, 0.6, 0.4, 0.8, 0.5, 0.3] + [0.5] * 6)  # correctness: 2 repeats
    client = ScriptedJudgeClient(lambda _: next(scores))
    records = [{**r, "qid": qid} for r, qid in zip(RECORDS, ("q1", "q2", "q3"))]
    report = judge_records(records, "openai:gpt-test", repeats=2,
                           judge=make_judge("openai:gpt-test", client=client))
    assert report.metrics["correctness"].items == pytest.approx(
        {"q1": 0.5, "q2": 0.55, "q3": 0.35})  # each question's mean over the repeats
    no_ids = judge_records(RECORDS, "openai:gpt-test",
                           judge=make_judge("openai:gpt-test",
                                            client=ScriptedJudgeClient(lambda _: 0.5)))
    assert no_ids.metrics["correctness"].items is None


def test_a_judge_that_scores_nothing_gives_nan_which_the_regression_check_fails_on():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: "garbage"))
    report = judge_records(RECORDS[:1], "openai:gpt-test", judge=judge)
    assert math.isnan(report.metrics["correctness"].value)
    assert report.metrics["correctness_unscored"].value == 1


LABELLED = [
    LabelledItem("a", "How long is the tank?", "The tank is 90 metres long.",
                 {"right": "It is 90 m long.", "wrong": "It is 60 m long.",
                  "offtopic": "Lunch costs 4.50.", "evasive": "No idea, sorry."}),
    LabelledItem("b", "Who founded it?", "Ilse Varnum founded it.",
                 {"right": "It was Ilse Varnum.", "partial": "Ilse did.",
                  "wrong": "It was Ilse Eke.", "evasive": "Ask HR."}),
]


def labelled_reply(table):
    """A fake judge that scores an answer by its text: ``table[answer]``."""
    def reply(kwargs):
        prompt = kwargs["messages"][-1]["content"]
        output = prompt.split("<output", 1)[1].split("</output", 1)[0]
        return next(score for text, score in table.items() if text in output)
    return reply


def test_each_pair_type_is_the_auc_of_its_groups_and_memoized():
    scores = {"It is 90 m long.": 0.9, "It is 60 m long.": 0.95, "Lunch costs 4.50.": 0.1,
              "No idea, sorry.": 0.3, "It was Ilse Varnum.": 0.8, "Ilse did.": 0.6,
              "It was Ilse Eke.": 0.4, "Ask HR.": 0.5}
    client = ScriptedJudgeClient(labelled_reply(scores))
    judge = make_judge("openai:gpt-test", client=client)
    found = measure_discrimination(judge, LABELLED)
    # right {0.9, 0.8} vs near-miss {0.95, 0.4}: 2 of 4 pairs ordered right
    assert found.aucs["correctness_right_vs_wrong"] == 0.5
    assert found.aucs["correctness_right_vs_offtopic"] == 1.0  # only item a has one
    # answers {0.9, 0.95, 0.8, 0.6, 0.4} vs evasive {0.3, 0.5}: 9 of 10 ordered right
    assert found.aucs["helpfulness_answer_vs_evasive"] == pytest.approx(0.9)
    assert found.pairs_counted["helpfulness_answer_vs_offtopic"] == (5, 1)
    # correctness scores vs grades (right 2, partial 1, others 0), average ranks for ties:
    # scores 0.9 0.8 | 0.6 | 0.95 0.4 | 0.1 | 0.3 0.5 rank 7 6 | 5 | 8 3 | 1 | 2 4,
    # grades rank 7.5 7.5 | 6 | 3 3 | 3 | 3 3; Pearson of the ranks: 19.5 / sqrt(42 * 31.5)
    assert found.spearman == pytest.approx(13 * math.sqrt(3) / 42)  # 0.5361
    assert found.judgments == 2 * 8 and found.unscored == 0  # keys x answers
    assert found.mean_score("correctness", "partial") == 0.6
    calls = len(client.calls)
    assert measure_discrimination(judge, LABELLED) is found and len(client.calls) == calls
    assert "correctness: right vs near-miss AUC 0.50" in discrimination.discrimination_note(found)
    assert "Below 0.7" in discrimination.discrimination_note(found)


def test_pair_types_the_set_lacks_are_not_measured():
    only_right = [LabelledItem("a", "Q?", "R.", {"right": "A."}),
                  LabelledItem("b", "Q2?", "R2.", {"right": "B."})]
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: 0.4))
    found = measure_discrimination(judge, only_right)
    assert set(found.aucs.values()) == {None} and found.spearman is None
    assert "Not measured" in discrimination.discrimination_note(found)


def test_judge_records_carries_the_judges_aucs_as_information():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: 0.4))
    outcome = judge_records(RECORDS, "openai:gpt-test", judge=judge, labelled=LABELLED)
    auc = outcome.metrics["judge_auc_correctness_right_vs_wrong"]
    assert auc.value == 0.5 and not auc.compare  # the judge-quality benchmark gates it
    assert outcome.artifacts["quality"]["aucs"]["correctness_right_vs_wrong"] == 0.5
    assert outcome.artifacts["quality"]["items"] == 2
    assert "judge openai:gpt-test on 2 labelled questions" in outcome.notes[0]
    json.dumps(outcome.artifacts)


def test_bad_arguments_are_clear_errors():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient([]))
    with pytest.raises(ValueError, match="--judge-repeats"):
        judge_records(RECORDS, "openai:gpt-test", repeats=0, judge=judge)
    with pytest.raises(ValueError, match="no records"):
        judge_records([], "openai:gpt-test", judge=judge)
