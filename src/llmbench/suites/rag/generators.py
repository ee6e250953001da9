"""Answer generators behind one interface, chosen by a spec string.

* ``smollm2-135m`` -- the bundled SmolLM2-135M-Instruct (offline default).
* ``hf:<model id or path>`` -- any transformers causal LM that ``llmbench.sources.models`` loads
  (a local directory, a hub id, or a built-in spec such as ``hf:tiny-opt-random``).
* ``openai:<model>`` -- any OpenAI-compatible chat-completions endpoint (``OPENAI_API_KEY``,
  ``OPENAI_BASE_URL`` for vLLM, Ollama, ...).

Local models answer greedily, in batches with left padding, through the tokenizer's chat template
(or plain text when the tokenizer has none); their tokens are counted with the tokenizer. OpenAI
tokens come from the API's ``usage``. ``Completion.seconds`` is how long the caller waited for
that answer: for a batch, the whole batch's time.
"""

from __future__ import annotations

import functools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.core.specs import GENERATOR_FORMS, HF_PREFIX, OPENAI_PREFIX, SMOLLM2
from llmbench.suites.rag.prompts import Messages

SPEC_FORMS = ", ".join(GENERATOR_FORMS)


class UnknownGeneratorError(ValueError):
    """The spec names no generator."""


class GeneratorUnavailable(RuntimeError):
    """The generator cannot run here (e.g. no API key); benchmarks skip with this reason."""


class GenerationError(RuntimeError):
    """The endpoint failed after its retries; fails this configuration only."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int | None  # None: the endpoint did not report usage
    completion_tokens: int | None
    seconds: float


class Generator(ABC):
    spec: str

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], *, max_new_tokens: int,
                 batch_size: int = 1) -> list[Completion]:
        """One completion per prompt, in order."""


def build_generator(spec: str, *, device: str = "cpu", timeout_s: float = 60.0,
                    max_retries: int = 3) -> Generator:
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownGeneratorError(f"empty generator spec; use one of: {SPEC_FORMS}")
    if spec == SMOLLM2:
        return _local_generator(spec, SMOLLM2, device)
    if spec.startswith(HF_PREFIX) and spec[len(HF_PREFIX):]:
        from llmbench.sources.models import HubUnreachableError, UnknownModelError

        try:
            return _local_generator(spec, spec[len(HF_PREFIX):], device)
        except UnknownModelError as exc:
            raise UnknownGeneratorError(f"generator {spec!r}: {exc}") from None
        except HubUnreachableError as exc:
            raise GeneratorUnavailable(f"generator {spec!r}: {exc}") from None
    if spec.startswith(OPENAI_PREFIX) and spec[len(OPENAI_PREFIX):]:
        return OpenAIGenerator(spec, spec[len(OPENAI_PREFIX):], timeout_s=timeout_s,
                               max_retries=max_retries)
    raise UnknownGeneratorError(f"unknown generator spec {spec!r}; use one of: {SPEC_FORMS}")


# --- local transformers models ------------------------------------------------------------------

@functools.lru_cache(maxsize=2)  # benchmarks of one session share the loaded model
def _local_generator(spec: str, model_spec: str, device: str) -> LocalGenerator:
    return LocalGenerator(spec, model_spec, device)


class LocalGenerator(Generator):
    def __init__(self, spec: str, model_spec: str, device: str = "cpu") -> None:
        from llmbench.sources.models import load_model, load_tokenizer

        self.spec = spec
        self.device = device
        self.model = load_model(model_spec, device=device).eval()
        self.tokenizer = load_tokenizer(model_spec, padding_side="left")
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])

    def render(self, messages: Messages) -> str:
        if self.has_chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:"

    def generate(self, prompts: Sequence[Messages], *, max_new_tokens: int,
                 batch_size: int = 1) -> list[Completion]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        texts = [self.render(m) for m in prompts]
        completions: list[Completion] = []
        for start in range(0, len(texts), batch_size):
            completions += self._generate_batch(texts[start:start + batch_size], max_new_tokens)
        return completions

    def _generate_batch(self, texts: list[str], max_new_tokens: int) -> list[Completion]:
        import torch

        started = time.perf_counter()
        # A chat template already writes the special tokens; plain prompts get the usual BOS.
        batch = self.tokenizer(texts, return_tensors="pt", padding=True,
                               add_special_tokens=not self.has_chat_template).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=self.tokenizer.pad_token_id)
        new_tokens = output[:, batch["input_ids"].shape[1]:].tolist()
        prompt_tokens = batch["attention_mask"].sum(dim=1).tolist()
        lengths = [self._completion_length(row) for row in new_tokens]
        answers = [self.tokenizer.decode(row[:n], skip_special_tokens=True).strip()
                   for row, n in zip(new_tokens, lengths)]
        seconds = time.perf_counter() - started
        return [Completion(text, int(p), n, seconds)
                for text, p, n in zip(answers, prompt_tokens, lengths)]

    def _completion_length(self, row: list[int]) -> int:
        """Generated tokens up to and including the first end-of-sequence token."""
        for i, token in enumerate(row):
            if token in self.eos_ids:
                return i + 1
        return len(row)


# --- OpenAI-compatible endpoints ----------------------------------------------------------------

class OpenAIGenerator(Generator):
    """Chat completions with temperature 0; the client retries timeouts, 429 and 5xx with
    exponential backoff (honouring Retry-After) before we report a failure."""

    def __init__(self, spec: str, model: str, *, timeout_s: float = 60.0,
                 max_retries: int = 3) -> None:
        api_key = os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise GeneratorUnavailable(
                f"{spec} needs OPENAI_API_KEY (and OPENAI_BASE_URL for an OpenAI-compatible "
                "server such as vLLM or Ollama)")
        import openai

        self.spec = spec
        self.model = model
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.client = openai.OpenAI(api_key=api_key,
                                    base_url=os.environ.get("OPENAI_BASE_URL") or None,
                                    timeout=timeout_s, max_retries=max_retries)

    def generate(self, prompts: Sequence[Messages], *, max_new_tokens: int,
                 batch_size: int = 1) -> list[Completion]:
        # One request per prompt: chat completions take one conversation per call.
        return [self._complete(messages, max_new_tokens) for messages in prompts]

    def _complete(self, messages: Messages, max_new_tokens: int) -> Completion:
        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_new_tokens, temperature=0)
        except Exception as exc:
            raise GenerationError(self._explain(exc)) from exc
        seconds = time.perf_counter() - started
        if not response.choices:
            raise GenerationError(f"{self.spec} at {self.client.base_url}: reply has no choices")
        text = (response.choices[0].message.content or "").strip()
        usage: Any = response.usage
        return Completion(text, getattr(usage, "prompt_tokens", None),
                          getattr(usage, "completion_tokens", None), seconds)

    def _explain(self, exc: Exception) -> str:
        import openai

        where = f"{self.spec} at {self.client.base_url}"
        retried = f"after {self.max_retries} retries"
        if isinstance(exc, openai.RateLimitError):
            return f"{where}: rate limited (HTTP 429) {retried}: {exc}"
        if isinstance(exc, openai.APITimeoutError):
            return f"{where}: no reply within {self.timeout_s:g} s, {retried}"
        if isinstance(exc, openai.APIConnectionError):
            return f"{where}: endpoint unreachable {retried}: {exc}"
        if isinstance(exc, openai.AuthenticationError):
            return f"{where}: the endpoint rejected OPENAI_API_KEY (HTTP 401)"
        if isinstance(exc, openai.NotFoundError):
            return f"{where}: model {self.model!r} not found (HTTP 404): {exc}"
        if isinstance(exc, openai.APIStatusError):
            retried = retried if exc.status_code >= 500 else "(not retried)"
            return f"{where}: HTTP {exc.status_code} {retried}: {exc}"
        return f"{where}: {type(exc).__name__}: {exc}"
