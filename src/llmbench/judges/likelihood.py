"""Batched token log-probabilities of a causal LM: log P(continuation | context), per token.

The offline judge scores answers by how likely a small model finds one text after another (the
GPTScore / BARTScore family): no generation, no instruction following, only forward passes. A
batch of (context, continuation) pairs is tokenized, right-padded with an attention mask and run
in one forward pass; only the positions that predict continuation tokens are turned into logits.
Pairs are batched in a fixed order (by length, ties by input order), so the same pairs give
bit-identical numbers run after run.

A shared ``prefix`` (e.g. in-context demonstrations) runs once: its key/value cache is kept and
repeated across each batch, so every pair pays only for its own tokens. Inputs go to the device
the model is on.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

DEFAULT_BATCH_SIZE = 16


class TokenLogProbs:
    """``scorer(pairs) -> [per-token log-probabilities of each continuation]``.

    ``model`` is any transformers causal LM, ``tokenizer`` its tokenizer. The context is
    tokenized with the tokenizer's special tokens (a BOS where the model expects one), the
    continuation without, and the two id lists are concatenated: the continuation's tokens are
    exactly the ones scored, whatever the context ends with.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str, *,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_tokens: int = 1024) -> None:
        import inspect

        import torch

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._torch = torch
        self.device = next(model.parameters()).device
        params = inspect.signature(model.forward).parameters
        self._keep_arg = "logits_to_keep" in params
        # transformers renamed `past_key_values` to `cache` during 5.x
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._prefixes: dict[str, tuple[int, Any]] = {}  # prefix -> (tokens, kv cache)
        pad = tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)
        self.forward_passes = 0  # how many batches ran (cost accounting)
        self.tokens_scored = 0

    def encode(self, context: str, continuation: str, *, after_prefix: bool = False
               ) -> tuple[list[int], int]:
        """Token ids of context + continuation, and where the continuation starts."""
        ctx = self.tokenizer(context, add_special_tokens=not after_prefix)["input_ids"]
        cont = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not cont:
            raise ValueError(f"empty continuation after context {context[-60:]!r}")
        if not ctx:
            raise ValueError("a scored continuation needs at least one context token")
        ids = ctx + cont
        if len(ids) > self.max_tokens:
            raise ValueError(f"judge model {self.name}: {len(ids)} tokens is more than the "
                             f"{self.max_tokens} it scores at once; shorten the answer or the "
                             "reference")
        return ids, len(ctx)

    def __call__(self, pairs: Sequence[tuple[str, str]], *, prefix: str = ""
                 ) -> list[list[float]]:
        """Per-token log-probabilities of each pair's continuation, in input order.

        With ``prefix``, every context is read after that text (computed once per process).
        Duplicate pairs are computed once."""
        unique = list(dict.fromkeys(pairs))
        encoded = [self.encode(ctx, cont, after_prefix=bool(prefix)) for ctx, cont in unique]
        order = sorted(range(len(unique)), key=lambda i: (-len(encoded[i][0]), i))
        found: dict[tuple[str, str], list[float]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            for i, values in zip(chunk, self._batch([encoded[i] for i in chunk], prefix)):
                found[unique[i]] = values
        return [found[p] for p in pairs]

    def forget(self) -> None:
        """Drop the kept prefix caches (the next call recomputes them)."""
        self._prefixes.clear()

    def fresh(self) -> TokenLogProbs:
        """A scorer over the same loaded model with nothing kept (no prefix caches)."""
        return TokenLogProbs(self.model, self.tokenizer, self.name, batch_size=self.batch_size,
                             max_tokens=self.max_tokens)

    def _prefix(self, prefix: str) -> tuple[int, Any]:
        """The prefix's length in tokens and its key/value cache (batch of one), kept."""
        if prefix not in self._prefixes:
            torch = self._torch
            ids = self.tokenizer(prefix, add_special_tokens=True)["input_ids"]
            with torch.inference_mode():
                out = self.model(input_ids=torch.tensor([ids], device=self.device),
                                 use_cache=True,
                                 **({"logits_to_keep": 1} if self._keep_arg else {}))
            cache = out.cache if self._cache_arg == "cache" else out.past_key_values
            self._prefixes[prefix] = (len(ids), cache)
        return self._prefixes[prefix]

    def _batch(self, encoded: Sequence[tuple[list[int], int]], prefix: str = ""
               ) -> list[list[float]]:
        torch = self._torch
        width = max(len(ids) for ids, _ in encoded)
        first = min(start for _, start in encoded)  # earliest continuation token
        input_ids = torch.full((len(encoded), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, (ids, _) in enumerate(encoded):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids)] = 1
        # Logits at position p predict token p + 1: positions first-1 .. width-2 are needed.
        keep = width - first + 1
        kwargs: dict[str, Any] = {"logits_to_keep": keep} if self._keep_arg else {}
        if prefix:
            length, cache = self._prefix(prefix)
            cache = copy.deepcopy(cache)
            cache.batch_repeat_interleave(len(encoded))
            kwargs[self._cache_arg] = cache
            mask = torch.cat([torch.ones((len(encoded), length), dtype=torch.long), mask], dim=1)
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids.to(self.device),
                                attention_mask=mask.to(self.device),
                                use_cache=bool(prefix), **kwargs).logits
        logits = logits[:, -keep:]  # all positions when the model ignores logits_to_keep
        offset = width - keep  # absolute position of logits[:, 0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        out = []
        for row, (ids, start) in enumerate(encoded):
            targets = torch.tensor(ids[start:], device=self.device)
            positions = torch.arange(start - 1, len(ids) - 1, device=self.device) - offset
            out.append(logprobs[row, positions, targets].tolist())
        self.forward_passes += 1
        self.tokens_scored += sum(len(ids) for ids, _ in encoded)
        return out
