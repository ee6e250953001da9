"""Answer generators behind one interface, chosen by a spec string.

* ``smollm2-135m`` -- the bundled SmolLM2-135M-Instruct (offline default).
* ``hf:<model id or path>`` -- any transformers causal LM that ``llmbench.sources.models`` loads
  (a local directory, a hub id, or a built-in spec such as ``hf:tiny-opt-random``).
* ``openai:<model>`` -- any OpenAI-compatible chat-completions endpoint (``OPENAI_API_KEY`` for
  OpenAI's API; ``OPENAI_BASE_URL`` for vLLM, Ollama, llama.cpp, ..., which need no key).

Local models answer greedily, in batches with left padding, through the tokenizer's chat template
(or plain text when the tokenizer has none); their tokens are counted with the tokenizer. OpenAI
tokens come from the API's ``usage``. ``Completion.seconds`` is how long the caller waited for
that answer: for a batch, the whole batch's time.
"""

from __future__ import annotations

import functools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmbench.core.remote import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    MEMORY,
    Endpoint,
    EndpointError,
    EndpointGone,
    EndpointRejected,
    Failure,
    base_url_of,
    call_endpoint,
    openai_client,
    openai_settings,
)
from llmbench.core.specs import (
    GENERATOR_FORMS,
    HF_PREFIX,
    OPENAI_PREFIX,
    SMOLLM2,
    UnknownGeneratorError,
    validate_generator_spec,
)
from llmbench.suites.rag.prompts import Messages

log = logging.getLogger("llmbench")

SPEC_FORMS = ", ".join(GENERATOR_FORMS)


class GeneratorUnavailable(RuntimeError):
    """The generator cannot run here (e.g. no API key); benchmarks skip with this reason."""


class GenerationError(RuntimeError):
    """The endpoint refused the request, failed after its retries or stayed silent past the
    deadline; fails this configuration only. The message is redacted."""


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

    def notes(self) -> list[str]:
        """What a result should say about how this generator ran (e.g. negotiated settings)."""
        return []


def build_generator(spec: str, *, device: str = "cpu", timeout_s: float = DEFAULT_TIMEOUT_S,
                    max_retries: int = DEFAULT_RETRIES) -> Generator:
    validate_generator_spec(spec)
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
        from llmbench.sources.models import inference_model, load_tokenizer

        self.spec = spec
        self.device = device
        self.model = inference_model(model_spec, device=device)  # shared with the judge
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
                               add_special_tokens=not self.has_chat_template
                               ).to(self.model.device)
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

TOKEN_LIMIT_PARAMS = ("max_tokens", "max_completion_tokens")


class OpenAIGenerator(Generator):
    """Chat completions, greedy (temperature 0), one request per prompt, through
    ``llmbench.core.remote.call_endpoint``: transient failures (timeouts, 429, 502/503) are
    retried within the benchmark's ``--remote-deadline``; a refused request stops at once.

    What the endpoint accepts is negotiated once per endpoint and run: the token limit goes as
    ``max_tokens`` (what llama.cpp, vLLM, Ollama and most gateways read) and as
    ``max_completion_tokens`` when the server names ``max_tokens`` as unsupported (OpenAI's
    reasoning models); a server that refuses ``temperature`` gets none (its answers are then
    sampled, and the result's notes say so). Usage that the endpoint leaves out, in full or
    field by field, is ``None`` (the pipeline reports tokens unavailable)."""

    def __init__(self, spec: str, model: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_retries: int = DEFAULT_RETRIES, client: Any = None) -> None:
        if client is None:
            try:
                client = openai_client(*openai_settings())
            except LookupError as exc:
                raise GeneratorUnavailable(f"generator {spec}: {exc}") from None
        self.spec = spec
        self.model = model
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.client = client
        self.endpoint = Endpoint(spec, base_url_of(client), model)

    def generate(self, prompts: Sequence[Messages], *, max_new_tokens: int,
                 batch_size: int = 1) -> list[Completion]:
        # One request per prompt: chat completions take one conversation per call.
        return [self._complete(messages, max_new_tokens) for messages in prompts]

    def notes(self) -> list[str]:
        adapted = MEMORY.get(self.endpoint, "adapted", [])
        return [f"generator {self.endpoint}: {change}" for change in adapted]

    def _complete(self, messages: Messages, max_new_tokens: int) -> Completion:
        started = time.perf_counter()
        response = self._request(messages, max_new_tokens)
        seconds = time.perf_counter() - started
        choices = getattr(response, "choices", None)
        if not choices:
            raise GenerationError(f"{self.endpoint}: the reply has no choices; is "
                                  "OPENAI_BASE_URL an OpenAI-compatible chat-completions API?")
        text = (getattr(choices[0].message, "content", None) or "").strip()
        usage = getattr(response, "usage", None)
        return Completion(text, usage_count(usage, "prompt_tokens"),
                          usage_count(usage, "completion_tokens"), seconds)

    def _params(self, messages: Messages, max_new_tokens: int) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": messages}
        params[MEMORY.get(self.endpoint, "token_limit", TOKEN_LIMIT_PARAMS[0])] = max_new_tokens
        if not MEMORY.get(self.endpoint, "no_temperature", False):
            params["temperature"] = 0
        return params

    def _request(self, messages: Messages, max_new_tokens: int) -> Any:
        for _ in range(len(TOKEN_LIMIT_PARAMS) + 2):  # each adaptation happens at most once
            params = self._params(messages, max_new_tokens)
            try:
                return call_endpoint(functools.partial(self._send, params), self.endpoint,
                                     retries=self.max_retries, timeout_s=self.timeout_s)
            except EndpointRejected as exc:
                if not self._adapt(exc.failure, params):
                    raise GenerationError(str(exc)) from None  # unchained: may hold the key
            except EndpointGone:
                raise  # the plugin reports it as an error of the run, not of the model
            except EndpointError as exc:
                raise GenerationError(str(exc)) from None
        raise GenerationError(f"{self.endpoint}: the server keeps refusing the request's "
                              "parameters")

    def _send(self, params: dict[str, Any], timeout: float) -> Any:
        return self.client.chat.completions.create(**params, timeout=timeout)

    def _adapt(self, failure: Failure, params: dict[str, Any]) -> bool:
        """Change what the server named as unsupported (structured ``param`` field only)."""
        adapted = list(MEMORY.get(self.endpoint, "adapted", []))
        if failure.param in TOKEN_LIMIT_PARAMS and failure.param in params:
            other = next(p for p in TOKEN_LIMIT_PARAMS if p != failure.param)
            change = f"sends {other} (the server refused {failure.param})"
            if change in adapted:
                return False
            MEMORY.remember(self.endpoint, "token_limit", other)
        elif failure.param == "temperature" and "temperature" in params:
            change = ("sends no temperature (the server refused temperature=0): its answers "
                      "are sampled, not greedy")
            MEMORY.remember(self.endpoint, "no_temperature", True)
        else:
            return False
        log.warning("%s: %s", self.endpoint, change)
        MEMORY.remember(self.endpoint, "adapted", [*adapted, change])
        return True


def usage_count(usage: Any, name: str) -> int | None:
    """A token count of ``usage`` (object or mapping); None when missing or not a count."""
    value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)
