"""The offline likelihood judge for real: SmolLM2-135M's log-probabilities, batched."""

from __future__ import annotations

import pytest
import torch

from llmbench.judges import OFFLINE_JUDGE, JudgeUnavailable, cached_judge, make_judge
from llmbench.judges.likelihood import TokenLogProbs
from llmbench.judges.offline import LikelihoodJudge

QUESTION = "How long is the indoor tank at Skerrin?"
REFERENCE = "The Skerrin Test Basin is a 90-metre indoor tank."
RIGHT = "The tank at Skerrin is 90 metres long."
WRONG = "The tank at Skerrin is 60 metres long."
OFFTOPIC = "The referral bonus is 2,000 euros."
EVASIVE = "I don't know the exact size of the basin."


@pytest.fixture(scope="module")
def judge() -> LikelihoodJudge:
    """Loaded once per module (the first run on a machine converts the GGUF, ~20 s)."""
    return cached_judge(OFFLINE_JUDGE)


def test_the_offline_spec_is_the_likelihood_judge(judge):
    assert isinstance(judge, LikelihoodJudge) and judge.deterministic
    assert make_judge(OFFLINE_JUDGE) is judge  # one model per process
    assert judge.describe()["kind"] == "likelihood (PMI)"


def test_right_outscores_its_near_miss_and_off_topic_and_evasive_answers(judge):
    triples = [(QUESTION, a, REFERENCE) for a in (RIGHT, WRONG, OFFTOPIC, EVASIVE)]
    right, wrong, off, evasive = (j.score for j in judge.judge_many("correctness", triples))
    assert all(0.0 <= s <= 1.0 for s in (right, wrong, off, evasive))
    assert right > wrong > off and right > evasive
    helpful, _, off_h, evasive_h = (j.score for j in judge.judge_many("helpfulness", triples))
    assert helpful > off_h and helpful > evasive_h


def test_a_judgment_says_how_it_was_scored_and_repeats_exactly(judge):
    first = judge.judge("correctness", QUESTION, RIGHT, REFERENCE)
    judge.forget()
    again = judge.judge("correctness", QUESTION, RIGHT, REFERENCE)
    assert again.score == first.score  # recomputed from scratch, bit-identical
    assert "PMI" in first.comment and "No text was generated" in first.comment
    assert first.seconds > 0


def test_batched_judgments_match_single_ones(judge):
    triples = [(QUESTION, a, REFERENCE) for a in (RIGHT, WRONG, OFFTOPIC)]
    batched = [j.score for j in judge.judge_many("correctness", triples)]
    single = [judge.judge("correctness", *t).score for t in triples]
    # padding changes matmul shapes: float32 sums may differ in their last bits
    assert batched == pytest.approx(single, abs=1e-5)


def test_the_openevals_evaluator_shape(judge):
    evaluator = judge.evaluator("correctness")
    out = evaluator(inputs=QUESTION, outputs=RIGHT, reference_outputs=REFERENCE)
    assert set(out) == {"key", "score", "comment"} and out["key"] == "correctness"
    assert out["score"] == judge.judge("correctness", QUESTION, RIGHT, REFERENCE).score
    helpful = judge.evaluator("helpfulness")(inputs={"question": QUESTION}, outputs=RIGHT)
    assert 0.0 <= helpful["score"] <= 1.0


def test_an_empty_answer_scores_zero_and_correctness_needs_a_reference(judge):
    empty = judge.judge("helpfulness", QUESTION, "  ", None)
    assert empty.score == 0.0 and "empty answer" in empty.comment
    with pytest.raises(ValueError, match="needs a reference"):
        judge.judge("correctness", QUESTION, RIGHT, None)
    with pytest.raises(ValueError, match="unknown feedback key"):
        judge.judge("fluency", QUESTION, RIGHT, REFERENCE)


def test_padded_batches_give_the_log_probs_of_one_unpadded_pass(judge):
    scorer: TokenLogProbs = judge.scorer
    fresh = TokenLogProbs(scorer.model, scorer.tokenizer, scorer.name, batch_size=4)
    pairs = [("Question: short?\nAnswer:", " Yes."),
             (f"Question: {QUESTION}\nAnswer: {RIGHT}\nReference answer:", " " + REFERENCE)]
    got = fresh(pairs)
    for (context, continuation), values in zip(pairs, got):
        ids, start = fresh.encode(context, continuation)
        with torch.inference_mode():
            logits = scorer.model(input_ids=torch.tensor([ids])).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        expected = [float(logprobs[p - 1, ids[p]]) for p in range(start, len(ids))]
        assert values == pytest.approx(expected, abs=1e-4)
    assert fresh.forward_passes == 1  # both pairs in one padded batch


def test_an_hf_judge_whose_model_cannot_load_is_unavailable(tmp_path):
    with pytest.raises(JudgeUnavailable, match="cannot load its model"):
        make_judge(f"hf:{tmp_path / 'no-such-model'}")


def test_a_cached_prefix_gives_the_log_probs_of_reading_it_every_time(judge):
    scorer: TokenLogProbs = judge.scorer
    fresh = TokenLogProbs(scorer.model, scorer.tokenizer, scorer.name, batch_size=4)
    prefix = "Question: When does it open?\nAnswer: At noon.\n\n"
    pairs = [(f"Question: {QUESTION}\nAnswer:", " " + RIGHT),
             ("Question: Who?\nAnswer:", " Ilse Varnum and Tobias Eke, in 2011.")]
    got = fresh(pairs, prefix=prefix)
    prefix_ids = scorer.tokenizer(prefix)["input_ids"]
    for (context, continuation), values in zip(pairs, got):
        ids, start = fresh.encode(context, continuation, after_prefix=True)
        ids, start = prefix_ids + ids, len(prefix_ids) + start
        with torch.inference_mode():
            logits = scorer.model(input_ids=torch.tensor([ids])).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        expected = [float(logprobs[p - 1, ids[p]]) for p in range(start, len(ids))]
        assert values == pytest.approx(expected, abs=1e-4)
    assert fresh(pairs, prefix=prefix) == got  # the kept cache is not modified by a batch


def test_a_fresh_judge_recomputes_and_leaves_the_memo_alone(judge):
    judge.forget()
    first = judge.judge("correctness", QUESTION, RIGHT, REFERENCE)
    kept = dict(judge._alone)
    assert kept  # the per-question terms, memoized
    fresh = judge.fresh()
    assert fresh.scorer.model is judge.scorer.model and not fresh._alone
    assert fresh.judge("correctness", QUESTION, RIGHT, REFERENCE).score == first.score
    assert fresh.scorer.forward_passes == 3  # the answer, and both per-question terms again
    assert judge._alone == kept
    passes = judge.scorer.forward_passes
    judge.judge("correctness", QUESTION, WRONG, REFERENCE)
    assert judge.scorer.forward_passes == passes + 1  # only the new answer is scored
