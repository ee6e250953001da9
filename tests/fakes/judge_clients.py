"""Tiny OpenAI-client-shaped judges for unit tests of the openevals plumbing.

``ScriptedJudgeClient(replies)`` answers each ``chat.completions.create`` call with the next
scripted reply: a string (the message content), a float (wrapped as the JSON openevals parses)
or an exception instance (raised). It records every call's keyword arguments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any


def reply_content(content: str) -> Any:
    message = SimpleNamespace(role="assistant", content=content)
    return SimpleNamespace(choices=[SimpleNamespace(index=0, message=message)])


class ScriptedJudgeClient:
    def __init__(self, replies: Iterable[Any] | Callable[[dict[str, Any]], Any]) -> None:
        self._script = replies if callable(replies) else iter(replies)
        self.calls: list[dict[str, Any]] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        reply = self._script(kwargs) if callable(self._script) else next(self._script)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, (int, float)) and not isinstance(reply, bool):
            reply = json.dumps({"reasoning": f"scripted {reply}", "score": reply})
        return reply_content(reply)

    def prompt_of(self, call: int) -> str:
        return self.calls[call]["messages"][-1]["content"]


def keyword_judge(right_words: dict[str, float], default: float = 0.2) -> ScriptedJudgeClient:
    """A deterministic judge: the score of the first word of ``right_words`` in the prompt's
    <output>/<outputs> section, else ``default``."""

    def reply(kwargs: dict[str, Any]) -> float:
        prompt = kwargs["messages"][-1]["content"]
        output = prompt.split("<output", 1)[1].split("</output", 1)[0]
        return next((score for word, score in right_words.items() if word in output), default)

    return ScriptedJudgeClient(reply)
