"""Quantization benchmark runner: load one precision, measure both sides of the trade.

    result = run_quant_benchmark(profile.quant, "nf4", device="cpu")

Knows nothing of pytest or baselines. Per precision (metric names as in the Result):

* memory: ``footprint_bytes`` (weights with their quantization state, see ``footprint``) and
  ``footprint_ratio_vs_fp32``; ``load_s`` (``from_pretrained`` incl. quantizing: the faster of
  the run's two loads, the evaluated model's and QLoRA's, both in ``artifacts["loads_s"]``).
* accuracy: ``eval_loss`` (mean per response token on the held-out examples), ``perplexity``
  and ``eval_loss_delta_vs_fp32`` against the fp32 reference of the same model, data and device
  measured in this process (see ``reference``).
* inference: ``forward_min_ms`` / ``forward_tokens_per_s`` for one forward pass over the first
  eval batch, ``generate_min_s`` / ``generate_tokens_per_s`` for greedy generation of
  ``generate_tokens`` tokens from a fixed prompt: the fastest of ``latency_rounds`` timed rounds
  after warm-up rounds (mean / median / stdev recorded beside it).
* QLoRA: LoRA r=``qlora_rank`` (the LoRA suite's recipe) on a fresh load of the model at this
  precision (loaded after the evaluated one is released: a user's QLoRA run holds one model),
  trained with the shared loop for ``qlora_steps`` steps: ``qlora_final_loss``,
  ``qlora_runtime_s``, ``qlora_tokens_per_s``, ``qlora_trainable_params``. A model that computes
  in float16 trains on CUDA under autocast with a loss scaler (``measure.training``).
* memory while training: ``qlora_peak_rss_mb`` (CPU: the process's RSS sampled during QLoRA) or
  ``peak_cuda_allocated_mb`` / ``peak_cuda_reserved_mb`` during QLoRA and ``cuda_model_mb``
  after load (CUDA): the benchmark's own, growth over what the device held when it started
  (``measure.device_memory``).

Timings bound by the host on a GPU (``load_s``, the 8-token ``generate_*``) are of the kinds
``host_time`` / ``host_throughput`` (``regression.tolerances``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from llmbench.measure.adapters import lora_config
from llmbench.measure.device_memory import DeviceMemory, device_memory_for, settled_reading
from llmbench.measure.latency import RoundTimer, time_rounds
from llmbench.measure.oom import guard_oom
from llmbench.measure.progress import get_logger
from llmbench.measure.trackers import RssSampler, Timer, synchronize
from llmbench.measure.training import evaluate_loss, release_memory
from llmbench.profiles import LoraSettings, QuantSettings
from llmbench.regression.results import (
    Determinism,
    Result,
    cost,
    info,
    quality,
    seeded_on,
)
from llmbench.sources.data import (
    TokenizedExample,
    collate,
    format_prompt,
    load_instruction_data,
    tokenize_examples,
)
from llmbench.sources.models import OFFLINE_SPECS, load_model, load_tokenizer, local_model_dir
from llmbench.suites.quant.footprint import Footprint, weight_footprint
from llmbench.suites.quant.precisions import (
    Precision,
    get_precision,
    load_kwargs,
    require_available,
)
from llmbench.suites.quant.qlora import add_qlora_metrics, run_qlora
from llmbench.suites.quant.reference import (
    Fp32Reference,
    ReferenceCache,
    ReferenceKey,
    quantization_error,
)

# fp32 references of this process (see reference.py); tests pass their own cache.
REFERENCES = ReferenceCache()
log = get_logger("quant")

EXPECTED_RELATIONSHIPS = (
    "weights of the quantized Linear layers, by construction of the formats: "
    "fp32 (4 B/weight) > bf16 = fp16 (2 B) > int8 (1 B + a float32 scale per row) > "
    "nf4 = fp4 (0.5 B + a float32 scale per 64-weight block)",
    "nf4-dq < nf4 when the Linear layers are large: double quantization stores the block scales "
    "in 8 bits (saves 3 B per 64 weights) but adds a 256-entry float32 table (1 KiB) per layer, "
    "so it only pays off above ~22K weights per layer (SmolLM2: yes; tiny-opt-random: no)",
    "whole-model totals also hold the layers bitsandbytes leaves alone (embeddings, norms, "
    "biases, lm_head) in the compute dtype; with float32 there, int8 < fp16 needs the Linear "
    "weights to outweigh twice the rest (SmolLM2: yes; tiny-opt-random: no)",
)


class QuantizationLoadError(RuntimeError):
    """A precision could not be applied to a model (names model, precision and device)."""


@dataclass(frozen=True)
class QuantData:
    pad_token_id: int
    eval_set: list[TokenizedExample]
    train_set: list[TokenizedExample]
    prompt_ids: torch.Tensor  # (1, n) the fixed generation prompt


def effective_settings(settings: QuantSettings, precision: str, device: str) -> QuantSettings:
    """The settings this case runs with: fewer QLoRA steps for a precision that is
    pathologically slow on CPU (``slow_cpu_precisions``; documented in the profile)."""
    if (device.startswith("cuda") or settings.slow_cpu_qlora_steps is None
            or precision not in settings.slow_cpu_precisions):
        return settings
    return dataclasses.replace(settings, qlora_steps=min(settings.qlora_steps,
                                                         settings.slow_cpu_qlora_steps))


def benchmark_params(settings: QuantSettings, precision: str) -> dict[str, Any]:
    """The settings that define the benchmark (their hash decides baseline comparability)."""
    params = dataclasses.asdict(settings)
    # the matrix, and the rule that chose this case's qlora_steps (the steps themselves stay)
    del params["precisions"], params["slow_cpu_precisions"], params["slow_cpu_qlora_steps"]
    lora = lora_config(LoraSettings(model=settings.model), settings.qlora_rank)
    params.update(precision=precision, qlora_alpha=lora.lora_alpha,
                  qlora_dropout=lora.lora_dropout, qlora_targets=sorted(lora.target_modules))
    return params


def reference_key(settings: QuantSettings, device: str) -> ReferenceKey:
    return ReferenceKey(settings.model, settings.dataset, settings.seq_len, settings.batch_size,
                        settings.eval_examples, device, settings.seed)


def prepare_data(settings: QuantSettings) -> QuantData:
    tokenizer = load_tokenizer(settings.model)
    data = load_instruction_data(settings.dataset, seed=settings.seed)
    eval_set = tokenize_examples(data.held_out[:settings.eval_examples], tokenizer,
                                 max_length=settings.seq_len)
    train_set = tokenize_examples(data.train, tokenizer, max_length=settings.seq_len)
    prompt = tokenizer(format_prompt(data.held_out[0]), return_tensors="pt")["input_ids"]
    return QuantData(tokenizer.pad_token_id, eval_set, train_set,
                     prompt[:, -settings.seq_len:])


def count_quantized_layers(model: torch.nn.Module) -> int:
    import bitsandbytes as bnb

    return sum(isinstance(m, (bnb.nn.Linear8bitLt, bnb.nn.Linear4bit)) for m in model.modules())


def check_quantized(model: torch.nn.Module, precision: Precision, spec: str, device: str) -> int:
    """A bitsandbytes precision must have replaced some layers, or the figures would be fp32's."""
    if not precision.is_bitsandbytes:
        return 0
    layers = count_quantized_layers(model)
    if layers == 0:
        raise QuantizationLoadError(
            f"model {spec!r} loaded as {precision.id} on {device} has no layer that "
            "bitsandbytes quantized (it replaces nn.Linear layers; this model has none it "
            "accepts), so its figures would not be those of a quantized model")
    return layers


def load_precision(settings: QuantSettings, precision: Precision, device: str
                   ) -> torch.nn.Module:
    kwargs = load_kwargs(precision.id, settings.compute_dtype)
    try:
        return load_model(settings.model, device=device, **kwargs)
    except torch.cuda.OutOfMemoryError:
        raise
    except (ValueError, RuntimeError, ImportError, TypeError) as exc:
        if not precision.is_bitsandbytes:
            raise
        raise QuantizationLoadError(
            f"cannot load model {settings.model!r} as {precision.id} on {device}: "
            f"{type(exc).__name__}: {exc}") from exc


_WARM: set[tuple[str, str, str, str]] = set()


def warm_up_loading(settings: QuantSettings, precision: Precision, device: str) -> None:
    """Load once, untimed, before the timed load: the first load of a precision in a process
    also pays one-time setup (imports, kernel and quantizer initialisation), measured here at
    4x the later loads of a tiny model. ``load_s`` is the steady cost."""
    key = (settings.model, settings.compute_dtype, precision.id, device)
    if key in _WARM:
        return
    model = load_precision(settings, precision, device)
    del model
    release_memory()
    _WARM.add(key)


def compute_fp32_reference(settings: QuantSettings, data: QuantData, device: str
                           ) -> Fp32Reference:
    model = load_precision(settings, get_precision("fp32"), device)
    try:
        loss = evaluate_loss(model, data.eval_set, batch_size=settings.batch_size,
                             pad_token_id=data.pad_token_id, device=device)
        footprint = weight_footprint(model).total_bytes
    finally:
        del model
        release_memory()
    return Fp32Reference(loss, footprint, origin="fp32 loaded and evaluated for this case")


def run_quant_benchmark(settings: QuantSettings, precision: str, device: str = "cpu", *,
                        timer: RoundTimer | None = None,
                        references: ReferenceCache | None = None,
                        device_memory: DeviceMemory | None = None) -> Result:
    """Measure ``precision`` of ``settings.model`` on ``device``.

    ``device_memory``: the device's memory counters (default: ``torch.cuda``'s on CUDA, none on
    a CPU; tests pass a fake).

    Raises ``UnknownPrecisionError`` (lists the valid ids), ``PrecisionUnavailable`` (the caller
    skips: bitsandbytes missing/too old, device without a backend or without bf16),
    ``QuantizationLoadError`` and ``CudaOutOfMemoryError`` (memory released first).
    """
    spec = get_precision(precision)
    require_available(precision, device, settings.compute_dtype)
    settings = effective_settings(settings, precision, device)
    references = REFERENCES if references is None else references
    name = (f"{precision} on {settings.model} ({device}, seq_len={settings.seq_len}, "
            f"batch_size={settings.batch_size}, qlora_steps={settings.qlora_steps})")
    memory = device_memory or device_memory_for(device)
    return guard_oom(lambda: _run(settings, spec, device, timer, references, name, memory), name)


def _run(settings: QuantSettings, precision: Precision, device: str,
         timer: RoundTimer | None, references: ReferenceCache, name: str,
         memory: DeviceMemory | None) -> Result:
    data = prepare_data(settings)
    if settings.model in OFFLINE_SPECS:
        local_model_dir(settings.model)  # a first-time conversion is not load time
    key = reference_key(settings, device)
    if precision.id != "fp32":
        if references.get(key) is None:
            log.info("%s: computing the fp32 reference first", name)
        reference = references.get_or_compute(
            key, lambda: compute_fp32_reference(settings, data, device))
    release_memory()

    result = Result(suite="quant", params=benchmark_params(settings, precision.id))
    warm_up_loading(settings, precision, device)
    found = settled_reading(memory) if memory else None  # what others hold on the device
    with Timer(device) as load_timer:
        model = load_precision(settings, precision, device)
    layers = check_quantized(model, precision, settings.model, device)
    footprint = weight_footprint(model)
    log.info("%s: loaded in %.1f s, weights %.1f MB", name, load_timer.report.seconds,
             footprint.total_bytes / 1e6)
    cuda_model_mb = ((memory.current().allocated - found.allocated) / 1e6 if memory else None)

    with Timer(device) as eval_timer:
        eval_loss = evaluate_loss(model, data.eval_set, batch_size=settings.batch_size,
                                  pad_token_id=data.pad_token_id, device=device)
    if precision.id == "fp32":
        reference = Fp32Reference(eval_loss, footprint.total_bytes,
                                  origin="measured by this fp32 case")
        references.store(key, reference)
    log.info("%s: eval loss %.4f", name, eval_loss)
    with Timer(device) as inference_timer:
        inference = _measure_inference(model, settings, data, device, timer)
    log.info("%s: forward %.3f s, generate %.3f s (medians)", name,
             inference["forward"]["median"], inference["generate"]["median"])
    footprint_after_inference = weight_footprint(model)
    del model
    release_memory()

    # QLoRA trains a fresh load, not a copy of the evaluated model: on CPUs with AVX512-BF16,
    # bitsandbytes repacks 4-bit weights for inference on the first eval forward, a layout that
    # cannot be trained; and a deep copy of a 4-bit model keeps the original alive (bitsandbytes
    # 0.50.2's Params4bit.__deepcopy__ gives the copied weight the original Linear4bit as its
    # ``module``), so its peak memory would hold two quantized models.
    with Timer(device) as qlora_load_timer:
        qlora_model = load_precision(settings, precision, device)
    with RssSampler() as rss, Timer(device) as qlora_timer:
        qlora = run_qlora(qlora_model, precision, settings, data.train_set,
                          data.pad_token_id, device, name, memory, found)
    del qlora_model
    release_memory()
    log.info("%s: QLoRA loss %.4f after %d steps", name, qlora["loss_curve"][-1],
             settings.qlora_steps)

    result.phases = {"load": load_timer.report.seconds + qlora_load_timer.report.seconds,
                     "eval": eval_timer.report.seconds,
                     "inference": inference_timer.report.seconds,
                     "train": qlora_timer.report.seconds}
    error = quantization_error(eval_loss, footprint.total_bytes, reference)
    # A load of a few tenths of a second took up to 2x as long beside another worker's
    # memory-heavy phase (embedded int8, 2026-12-06); the faster of the two loads this run
    # makes anyway is the steady cost
    loads = [load_timer.report.seconds, qlora_load_timer.report.seconds]
    result.artifacts["loads_s"] = loads
    _add_memory_metrics(result, footprint, error.footprint_ratio, min(loads), device)
    _add_accuracy_metrics(result, eval_loss, error.eval_loss_delta, device)
    _add_inference_metrics(result, inference, device)
    add_qlora_metrics(result, qlora, device)
    if cuda_model_mb is not None:
        result.add("cuda_model_mb", cost(cuda_model_mb, "MB", kind="memory", device=device))
    if not device.startswith("cuda"):
        # Process RSS includes whatever earlier benchmarks of the same pytest process left
        # behind (measured: +36% when the LoRA suite ran first), so it is recorded, not compared.
        result.add("qlora_peak_rss_mb", info(rss.report.max_mb, "MB"))
    if qlora["mixed_precision"]:
        result.notes.append(f"QLoRA trained under {qlora['mixed_precision']}: "
                            f"{qlora['skipped_steps']} of {settings.qlora_steps} steps skipped "
                            "by the loss scaler (inf/NaN gradients)")
    result.artifacts.update(
        precision={"id": precision.id, "description": precision.description,
                   "bits": precision.bits, "quantized_layers": layers,
                   "load_kwargs": {k: str(v) for k, v in
                                   load_kwargs(precision.id, settings.compute_dtype).items()}},
        footprint=footprint.to_dict(),
        # bitsandbytes may change the layout on the first CPU inference (see above)
        footprint_after_inference=footprint_after_inference.to_dict(),
        fp32_reference=reference.to_dict(),
        quantization_error=error.to_dict(),
        inference=inference,
        qlora={k: v for k, v in qlora.items() if k != "report"},
        rss=rss.report.to_dict(),
        expected_relationships=list(EXPECTED_RELATIONSHIPS),
        torch_threads=torch.get_num_threads(),
    )
    result.notes.append(
        f"eval_loss_delta_vs_fp32 = eval_loss - fp32 eval_loss of {settings.model} on the same "
        f"{len(data.eval_set)} held-out examples on {device} in this process "
        f"({reference.origin})")
    return result


def _measure_inference(model: torch.nn.Module, settings: QuantSettings, data: QuantData,
                       device: str, timer: RoundTimer | None) -> dict[str, Any]:
    model.eval()
    batch = {k: v.to(device) for k, v in
             collate(data.eval_set[:settings.batch_size], data.pad_token_id).items()}
    batch.pop("labels")
    prompt = data.prompt_ids.to(device)
    n_new = settings.generate_tokens

    @torch.no_grad()
    def forward() -> None:
        model(**batch)
        synchronize(device)

    generated: list[torch.Tensor] = []

    @torch.no_grad()
    def generate() -> None:
        # min = max new tokens: every round produces the same number of tokens.
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt),
                             max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False,
                             pad_token_id=data.pad_token_id)
        synchronize(device)
        generated[:] = [out]

    forward_stats, forward_timer = time_rounds(forward, settings.latency_rounds,
                                               settings.latency_warmup_rounds)
    generate_stats, generate_timer = time_rounds(generate, settings.latency_rounds,
                                                 settings.latency_warmup_rounds, timer)
    new_tokens = generated[0][0, prompt.shape[1]:].tolist()
    return {
        "forward": {"timer": forward_timer, "tokens": int(batch["attention_mask"].sum()),
                    "batch_shape": list(batch["input_ids"].shape), **forward_stats.to_dict()},
        "generate": {"timer": generate_timer, "prompt_tokens": int(prompt.shape[1]),
                     "new_tokens": len(new_tokens), "token_ids": new_tokens,
                     **generate_stats.to_dict()},
    }


def _add_memory_metrics(result: Result, footprint: Footprint, ratio: float, load_s: float,
                        device: str) -> None:
    # Byte counts are the same on every run and machine: any change is a real one.
    result.add("footprint_bytes", quality(footprint.total_bytes, "bytes",
                                          determinism=Determinism.FIXED))
    result.add("footprint_ratio_vs_fp32", quality(ratio, "ratio", determinism=Determinism.FIXED))
    result.add("linear_weight_bytes", info(footprint.linear_bytes, "bytes"))
    result.add("load_s", cost(load_s, "s", kind="host_time", device=device))


def _add_accuracy_metrics(result: Result, eval_loss: float, delta: float, device: str) -> None:
    seeded = seeded_on(device)
    result.add("eval_loss", quality(eval_loss, "nats", kind="quant_loss", device=device,
                                    determinism=seeded))
    result.add("perplexity", quality(math.exp(eval_loss), "ppl", kind="perplexity",
                                     device=device, determinism=seeded))
    # A delta near zero has no meaningful relative change: absolute tolerance only.
    result.add("eval_loss_delta_vs_fp32", quality(delta, "nats", kind="loss_delta",
                                                  device=device, determinism=seeded))


def _add_inference_metrics(result: Result, inference: dict[str, Any], device: str) -> None:
    # Compared: the fastest round. Interference from other processes only ever adds time, so
    # the minimum is the steadiest estimate on a shared machine; mean, median and stdev are
    # recorded beside it (and the full statistics are in the artifacts).
    fwd, gen = inference["forward"], inference["generate"]
    result.add("forward_min_ms", cost(fwd["min"] * 1e3, "ms", kind="time", device=device))
    result.add("forward_median_ms", info(fwd["median"] * 1e3, "ms"))
    result.add("forward_tokens_per_s", cost(fwd["tokens"] / fwd["min"], "tokens/s", "higher",
                                            kind="throughput", device=device))
    # 8 greedy tokens: on a GPU, kernel launches on the host, not the device, set the pace.
    result.add("generate_min_s", cost(gen["min"], "s", kind="host_time", device=device))
    result.add("generate_mean_s", info(gen["mean"], "s"))
    result.add("generate_median_s", info(gen["median"], "s"))
    result.add("generate_stdev_s", info(gen["stdev"], "s"))
    result.add("generate_tokens_per_s", cost(gen["new_tokens"] / gen["min"], "tokens/s",
                                             "higher", kind="host_throughput", device=device))
