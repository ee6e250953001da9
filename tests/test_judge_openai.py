"""``openai:<model>`` judges through the real openai client, against scripted HTTP replies.

httpx's MockTransport answers the client's requests in-process; llmbench's own retry logic
(``llmbench.core.remote``: 429 with Retry-After, timeouts, 5xx) and the structured-output
negotiation run for real without a network.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from llmbench.judges import JudgeError, make_judge


def completion(content: str) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})


def judge_with(handler, *, retries: int = 1):
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request, len(requests))

    client = openai.OpenAI(api_key="sk-test-not-a-key", base_url="http://judge.test/v1",
                           max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(record)))
    return make_judge("openai:gpt-test", client=client, retries=retries), requests


def test_a_good_reply_is_scored_and_the_request_is_structured_output():
    judge, requests = judge_with(
        lambda req, n: completion(json.dumps({"reasoning": "fine", "score": 0.8})))
    judgment = judge.judge("correctness", "Q?", "A.", "R.")
    assert (judgment.score, judgment.comment) == (0.8, "fine")
    body = json.loads(requests[0].content)
    assert body["model"] == "gpt-test"
    assert body["response_format"]["type"] == "json_schema"
    assert requests[0].url.path == "/v1/chat/completions"


def test_rate_limits_are_retried_then_scored():
    def handler(request, n):
        if n == 1:
            return httpx.Response(429, headers={"retry-after-ms": "1"},
                                  json={"error": {"message": "slow down"}})
        return completion(json.dumps({"reasoning": "ok", "score": 0.6}))

    judge, requests = judge_with(handler)
    assert judge.judge("correctness", "Q", "A", "R").score == 0.6
    assert len(requests) == 2


def test_a_rate_limit_that_persists_is_counted_unscored_not_raised():
    judge, requests = judge_with(lambda req, n: httpx.Response(
        429, headers={"retry-after-ms": "1"}, json={"error": {"message": "slow down"}}))
    judgment = judge.judge("helpfulness", "Q", "A", None)
    assert judgment.score is None and judgment.error == "rate limited (HTTP 429)"
    assert len(requests) == 2  # the first try and one retry


def test_a_timeout_is_counted_unscored():
    def handler(request, n):
        raise httpx.ReadTimeout("judge took too long", request=request)

    judge, _ = judge_with(handler, retries=0)
    judgment = judge.judge("correctness", "Q", "A", "R")
    assert judgment.score is None and judgment.error.startswith("no answer within")


def test_a_server_error_is_counted_unscored():
    judge, _ = judge_with(lambda req, n: httpx.Response(503, json={"error": "down"}),
                          retries=0)
    assert judge.judge("correctness", "Q", "A", "R").error == "endpoint unavailable (HTTP 503)"


def test_an_unparseable_reply_is_asked_again():
    replies = ["Sure! The answer looks right.", json.dumps({"reasoning": "r", "score": 0.4})]
    judge, requests = judge_with(lambda req, n: completion(replies[n - 1]))
    judgment = judge.judge("correctness", "Q", "A", "R")
    assert (judgment.score, judgment.attempts, len(requests)) == (0.4, 2, 2)


def test_a_model_that_does_not_exist_is_a_clear_error():
    judge, _ = judge_with(lambda req, n: httpx.Response(404, json={"error": {
        "message": "The model `gpt-test` does not exist", "type": "invalid_request_error",
        "code": "model_not_found"}}))
    with pytest.raises(JudgeError, match=r"openai:gpt-test at http://judge.test/v1/ rejected the "
                                         r"request \(HTTP 404\): The model .*Check the model "
                                         r"name"):
        judge.judge("correctness", "Q", "A", "R")


def test_a_rejected_key_is_a_clear_error():
    judge, _ = judge_with(lambda req, n: httpx.Response(401, json={"error": {
        "message": "Incorrect API key provided"}}))
    with pytest.raises(JudgeError, match=r"rejected the request \(HTTP 401\): Incorrect API "
                                         r"key.*Check OPENAI_API_KEY"):
        judge.judge("correctness", "Q", "A", "R")
