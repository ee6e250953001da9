"""The offline yes/no judge: a local chat model behind the OpenAI client interface.

A 135M model cannot be trusted to write JSON, so it scores by constrained choice: openevals'
rubric is followed by one yes/no question, and the score is P(yes), the softmax over the
next-token logits of "yes"/"Yes" against "no"/"No". Deterministic on CPU.
"""

from __future__ import annotations

import copy
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmbench.judges.errors import JudgeError

# The offline judge answers one yes/no question after openevals' rubric.
YES_NO_QUESTIONS = {
    "correctness": "Is the output correct according to the reference outputs? Answer yes or no.",
    "helpfulness": "Does the output answer the input question? Answer yes or no.",
}
YES_WORDS = ("yes", "Yes")
NO_WORDS = ("no", "No")


class _Completions:
    def __init__(self, create: Callable[..., Any]) -> None:
        self.create = create


class _Chat:
    def __init__(self, create: Callable[..., Any]) -> None:
        self.completions = _Completions(create)


class YesNoJudgeClient:
    """An OpenAI-client-shaped judge around a local chat model, scoring by constrained choice.

    ``client.chat.completions.create(model=, messages=, response_format=)`` applies the model's
    chat template to ``messages`` (which must end with a yes/no question), reads the next-token
    logits after the assistant turn opens, and replies with the JSON openevals parses:
    ``{"reasoning": "P(yes)=... from next-token logits ...", "score": P(yes)}``.

    Every judgment of one rubric starts with the same few hundred tokens. Prompts run through
    the model in fixed chunks of ``CHUNK`` tokens, and the key/value cache after each chunk is
    kept (least recently used first out), so a shared rubric is computed once. The chunking is
    the same whether a chunk comes from the cache or not: a prompt's score does not depend on
    which prompts were judged before it, and a repeat gives exactly the same number.
    """

    CHUNK = 64
    KEPT_CHUNKS = 12

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        import inspect

        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.yes_ids = [self._single_token(w) for w in YES_WORDS]
        self.no_ids = [self._single_token(w) for w in NO_WORDS]
        self._torch = torch
        # transformers renamed `past_key_values` to `cache` during 5.x
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Only the last position's logits are read; skipping the others saves ~25% of a pass.
        self._extra_args = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self._chunks: OrderedDict[tuple[int, ...], Any] = OrderedDict()  # prefix -> kv cache
        self.chat = _Chat(self._create)

    def _single_token(self, word: str) -> int:
        ids = self.tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            raise JudgeError(f"judge model {self.name}: {word!r} is not a single token ({ids}); "
                             "the yes/no judge needs single-token answers")
        return ids[0]

    def p_yes(self, messages: Sequence[Mapping[str, Any]]) -> tuple[float, int]:
        """P(yes) after the chat-templated ``messages``, and the prompt length in tokens."""
        torch = self._torch
        ids = self.tokenizer.apply_chat_template(
            [{"role": m["role"], "content": m["content"]} for m in messages],
            add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
        logits = self._last_logits(ids[0].tolist())
        pair = torch.softmax(logits[self.yes_ids + self.no_ids].double(), dim=0)
        return float(pair[: len(self.yes_ids)].sum()), int(ids.shape[1])

    def _forward(self, ids: list[int], cache: Any) -> tuple[Any, Any]:
        """Run ``ids`` after a copy of ``cache``; return the last logits and the new cache."""
        torch = self._torch
        kwargs = dict(self._extra_args)
        if cache is not None:
            kwargs[self._cache_arg] = copy.deepcopy(cache)
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids]), use_cache=True, **kwargs)
        new_cache = out.cache if self._cache_arg == "cache" else out.past_key_values
        return out.logits[0, -1], new_cache

    def _last_logits(self, ids: list[int]) -> Any:
        boundaries = range(self.CHUNK, len(ids), self.CHUNK)  # the last chunk always runs
        cache, start = None, 0
        for end in boundaries:
            kept = self._chunks.get(tuple(ids[:end]))
            if kept is None:
                break
            self._chunks.move_to_end(tuple(ids[:end]))
            cache, start = kept, end
        for end in boundaries:
            if end <= start:
                continue
            _, cache = self._forward(ids[start:end], cache)
            self._chunks[tuple(ids[:end])] = cache
            start = end
        while len(self._chunks) > self.KEPT_CHUNKS:
            self._chunks.popitem(last=False)
        return self._forward(ids[start:], cache)[0]

    def _create(self, *, model: str, messages: Sequence[Mapping[str, Any]],
                response_format: Any = None, **_: Any) -> Any:
        from openai.types.chat import ChatCompletion

        p, prompt_tokens = self.p_yes(messages)
        reasoning = (f"P(yes)={p:.4f} from the next-token logits of {self.name} "
                     f"({'/'.join(YES_WORDS)} vs {'/'.join(NO_WORDS)}) after the rubric and its "
                     "yes/no question; no free-text reasoning was generated.")
        return ChatCompletion.model_validate({
            "id": "yes-no-judgment", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant",
                "content": json.dumps({"reasoning": reasoning, "score": p})}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1,
                      "total_tokens": prompt_tokens + 1},
        })

