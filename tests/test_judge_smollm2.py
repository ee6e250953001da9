"""The offline judge for real: SmolLM2-135M behind openevals, scoring by P(yes)."""

from __future__ import annotations

import json

import pytest
import torch

from llmbench.judges import OFFLINE_JUDGE, cached_judge
from llmbench.judges.offline import YesNoJudgeClient

QUESTION = "How long is the indoor tank at Skerrin?"
REFERENCE = "The Skerrin Test Basin is a 90-metre indoor tank."


@pytest.fixture(scope="session")
def offline_judge():
    """Loaded once per test session (the first run on a machine converts the GGUF, ~20 s)."""
    return cached_judge(OFFLINE_JUDGE)


def test_a_real_judgment_is_p_yes_with_honest_reasoning_and_repeats_exactly(offline_judge):
    first = offline_judge.judge("correctness", QUESTION, REFERENCE, REFERENCE)
    again = offline_judge.judge("correctness", QUESTION, REFERENCE, REFERENCE)
    assert 0.0 < first.score < 1.0
    assert first.comment.startswith(f"P(yes)={first.score:.4f} from the next-token logits of "
                                    "smollm2-135m")
    assert "no free-text reasoning" in first.comment
    assert again.score == first.score  # the shared-prefix cache is used the second time


def test_chunk_caching_does_not_change_the_score(offline_judge):
    client: YesNoJudgeClient = offline_judge.client
    rubric = "You judge answers about a ship-testing company. " * 6
    first = [{"role": "user", "content": f"{rubric}Is a 90-metre tank long? Answer yes or no."}]
    second = [{"role": "user", "content": f"{rubric}Is a 12-metre tank long? Answer yes or no."}]
    cold = YesNoJudgeClient(client.model, client.tokenizer, client.name)
    p_first, tokens = cold.p_yes(first)
    assert tokens > YesNoJudgeClient.CHUNK and len(cold._chunks) == 1
    p_second = cold.p_yes(second)[0]  # reuses the rubric's first chunk
    fresh = YesNoJudgeClient(client.model, client.tokenizer, client.name)
    assert fresh.p_yes(second)[0] == p_second  # same chunking, same arithmetic
    assert p_first != p_second
    assert p_second == pytest.approx(p_yes_in_one_pass(client, second), abs=1e-5)


def p_yes_in_one_pass(client: YesNoJudgeClient, messages) -> float:
    ids = client.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                               return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        logits = client.model(input_ids=ids["input_ids"]).logits[0, -1]
    pair = torch.softmax(logits[client.yes_ids + client.no_ids].double(), dim=0)
    return float(pair[:2].sum())


def test_the_reply_is_the_json_openevals_parses_with_usage(offline_judge):
    reply = offline_judge.client.chat.completions.create(
        model=OFFLINE_JUDGE, messages=[{"role": "user", "content": "Is water wet? Answer yes "
                                                                    "or no."}],
        response_format={"type": "json_schema"})
    parsed = json.loads(reply.choices[0].message.content)
    assert set(parsed) == {"reasoning", "score"} and 0.0 < parsed["score"] < 1.0
    assert reply.usage.completion_tokens == 1 and reply.usage.prompt_tokens > 5
