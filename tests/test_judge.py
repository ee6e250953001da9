"""The openevals judge plumbing, repeats, spread, tolerance and AUC, with fake clients."""

from __future__ import annotations

import json
import math

import pytest
from fakes.judge_clients import ScriptedJudgeClient, keyword_judge
from openevals.prompts import CORRECTNESS_PROMPT, RAG_HELPFULNESS_PROMPT

from llmbench.judges import (
    TOLERANCE_FLOOR,
    UNMEASURED_TOLERANCE,
    JudgeUnavailable,
    UnknownJudgeError,
    discrimination,
    judge_records,
    make_judge,
    measure_discrimination,
    score_tolerance,
)
from llmbench.judges import offline as judge_module
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
    monkeypatch.setattr(discrimination, "_DISCRIMINATION_MEMO", {})


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


def test_offline_judge_appends_one_yes_no_question_to_the_rubric():
    client = ScriptedJudgeClient([0.5, 0.5])
    judge = make_judge("smollm2-135m", client=client)
    judge.judge("correctness", "Q?", "A.", "R.")
    judge.judge("helpfulness", "Q?", "A.", None)
    assert client.prompt_of(0).endswith(judge_module.YES_NO_QUESTIONS["correctness"])
    assert client.prompt_of(1).endswith(judge_module.YES_NO_QUESTIONS["helpfulness"])


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
    with pytest.raises(UnknownJudgeError, match=r"--judge.*smollm2-135m.*openai:<model>"):
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
                           judge=make_judge("openai:gpt-test", client=client),
                           discrimination=False)
    assert len(client.calls) == len(RECORDS) * 2 * 2  # questions x keys x repeats
    correctness = report.metrics["correctness"]
    assert correctness.value == pytest.approx((0.9 + 0.8 + 0.1) / 3)
    assert correctness.direction is Direction.HIGHER and correctness.scope is Scope.QUALITY
    assert correctness.abs_tol == TOLERANCE_FLOOR  # a judge that repeats itself exactly
    assert report.metrics["correctness_unscored"].value == 0
    assert not report.metrics["correctness_unscored"].compare
    assert report.metrics["correctness_spread"].value == 0
    feedback = report.artifacts["feedback"]["correctness"]
    assert feedback["scores"] == [[0.9, 0.9], [0.8, 0.8], [0.1, 0.1]]
    assert feedback["spread_per_question"] == [0.0, 0.0, 0.0]
    assert report.artifacts["repeats"] == 2
    assert report.artifacts["questions"] == [r["question"] for r in RECORDS]
    json.dumps(report.artifacts)  # artifacts must be JSON-able


def test_noisy_judge_gets_a_tolerance_from_its_measured_spread():
    scores = iter([0.2, 0.8] * 50)
    client = ScriptedJudgeClient(lambda _: next(scores))
    report = judge_records(RECORDS, "openai:gpt-test", repeats=2,
                           judge=make_judge("openai:gpt-test", client=client),
                           discrimination=False)
    spread = math.sqrt(((0.2 - 0.5) ** 2 + (0.8 - 0.5) ** 2) / 1)  # sample std of (0.2, 0.8)
    stderr = math.sqrt(spread ** 2 / (3 * 2))
    assert report.artifacts["feedback"]["helpfulness"]["spread_per_question"] == \
        [pytest.approx(spread)] * 3
    assert report.metrics["helpfulness"].abs_tol == pytest.approx(3 * math.sqrt(2) * stderr)
    assert report.metrics["helpfulness_spread"].value == pytest.approx(spread)


def test_score_tolerance_without_repeats_is_wide_unless_the_judge_is_deterministic():
    assert score_tolerance([[0.3], [0.6]]) == (UNMEASURED_TOLERANCE, None)
    assert score_tolerance([[0.3], [0.6]], deterministic=True) == (TOLERANCE_FLOOR, None)


def test_a_judge_that_varies_and_ran_once_says_its_spread_is_unmeasured():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: 0.5))
    outcome = judge_records(RECORDS, "openai:gpt-test", judge=judge, discrimination=False)
    assert outcome.metrics["correctness"].abs_tol == UNMEASURED_TOLERANCE
    assert "--judge-repeats 3" in outcome.notes[0]
    assert outcome.params == {"spec": "openai:gpt-test", "repeats": 1}


def test_unscored_questions_are_counted_and_left_out_of_the_mean():
    def reply(kwargs):
        prompt = kwargs["messages"][-1]["content"]
        return "garbage" if "shuttle" in prompt else 0.6

    report = judge_records(RECORDS, "openai:gpt-test", repeats=1,
                           judge=make_judge("openai:gpt-test", client=ScriptedJudgeClient(reply)),
                           discrimination=False)
    assert report.metrics["correctness"].value == pytest.approx(0.6)
    assert report.metrics["correctness_unscored"].value == 1
    feedback = report.artifacts["feedback"]["correctness"]
    assert feedback["unscored_questions"] == 1
    assert feedback["unscored_judgments"] == 1
    [(reason, count)] = feedback["unscored_reasons"].items()
    assert reason.startswith("unparseable reply") and count == 1
    assert feedback["scores"][2] == [None]


def test_a_judge_that_scores_nothing_gives_nan_which_the_regression_check_fails_on():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: "garbage"))
    report = judge_records(RECORDS[:1], "openai:gpt-test", judge=judge, discrimination=False)
    assert math.isnan(report.metrics["correctness"].value)
    assert report.metrics["correctness_unscored"].value == 1


def test_discrimination_is_the_auc_of_right_against_wrong_answers_and_is_memoized():
    qa = [(r["question"], r["reference"]) for r in RECORDS]

    def reply(kwargs):
        prompt = kwargs["messages"][-1]["content"]
        question = prompt.split("<input", 1)[1].split("</input", 1)[0]
        output = prompt.split("<output", 1)[1].split("</output", 1)[0]
        own = next(r["reference"] for r in RECORDS if r["question"] in question)
        return 0.9 if own in output else 0.3

    client = ScriptedJudgeClient(reply)
    judge = make_judge("openai:gpt-test", client=client)
    found = measure_discrimination(judge, qa)
    assert found["correctness"]["auc"] == 1.0 and found["helpfulness"]["auc"] == 1.0
    assert found["correctness"]["mean_right"] == pytest.approx(0.9)
    assert found["correctness"]["mean_wrong"] == pytest.approx(0.3)
    calls = len(client.calls)
    assert calls == 2 * 2 * len(qa)  # keys x (right, wrong) x questions
    assert measure_discrimination(judge, qa) is found and len(client.calls) == calls


def test_an_uninformative_judge_has_auc_one_half():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient(lambda _: 0.4))
    found = measure_discrimination(judge, [(r["question"], r["reference"]) for r in RECORDS])
    assert found["correctness"]["auc"] == 0.5


def test_judge_records_carries_the_auc_as_a_metric_and_a_note_on_weakness():
    judge = make_judge("smollm2-135m", client=ScriptedJudgeClient(lambda _: 0.4))
    report = judge_records(RECORDS, "smollm2-135m", judge=judge)
    auc = report.metrics["judge_auc_correctness"]
    assert auc.value == 0.5 and auc.direction is Direction.HIGHER and auc.compare
    assert "AUC 0.50, does not separate right from wrong answers better than chance" in \
        report.notes[0]
    assert "weak" in report.notes[0]
    assert report.artifacts["discrimination"]["helpfulness"]["pairs"] == len(RECORDS)


def test_bad_arguments_are_clear_errors():
    judge = make_judge("openai:gpt-test", client=ScriptedJudgeClient([]))
    with pytest.raises(ValueError, match="--judge-repeats"):
        judge_records(RECORDS, "openai:gpt-test", repeats=0, judge=judge)
    with pytest.raises(ValueError, match="no records"):
        judge_records([], "openai:gpt-test", judge=judge)


def test_one_question_is_judged_but_its_auc_is_not_measured():
    judge = make_judge("smollm2-135m", client=ScriptedJudgeClient(lambda _: 0.4))
    outcome = judge_records(RECORDS[:1], "smollm2-135m", judge=judge)
    assert outcome.metrics["correctness"].value == 0.4
    assert "judge_auc_correctness" not in outcome.metrics
    assert "at least two questions" in outcome.notes[0]
