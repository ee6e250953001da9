"""One device per benchmark: a CUDA case of the RAG benchmarks loads every model on its device.

Without a GPU: the two loaders every model goes through (``sources.models.load_model`` for the
generator and the offline judge, sentence-transformers for the embedder) record the device they
are asked for and load on the CPU; the code sends its inputs to the device its model is on. The
benchmarks run in-process through the plugin, with CUDA declared usable.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers", reason="needs the rag extra")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def session_caches() -> list[functools._lru_cache_wrapper]:
    from llmbench.judges import offline, openevals_judge
    from llmbench.sources import models
    from llmbench.suites.rag import generators, retrievers

    return [models.inference_model, generators._local_generator, retrievers.load_embedder,
            retrievers.sentence_embeddings, offline.offline_judge, openevals_judge.cached_judge]


@pytest.fixture
def placements(monkeypatch):
    """(what, device) of every model loaded; the session's caches start and end empty."""
    import sentence_transformers

    import llmbench.pytest_plugin
    from llmbench.sources import models

    seen: list[tuple[str, str]] = []
    load_model, embedder = models.load_model, sentence_transformers.SentenceTransformer

    def load_on_cpu(spec, *, device="cpu", **kwargs):
        seen.append((spec, device))
        return load_model(spec, device="cpu", **kwargs)

    def embedder_on_cpu(path, *, device=None, **kwargs):
        seen.append(("embedder", device))
        return embedder(path, device="cpu", **kwargs)

    monkeypatch.setattr(models, "load_model", load_on_cpu)
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", embedder_on_cpu)
    monkeypatch.setattr(llmbench.pytest_plugin, "cuda_problem", lambda: None)  # "CUDA is here"
    for cache in session_caches():
        cache.cache_clear()
    yield seen
    for cache in session_caches():
        cache.cache_clear()


def test_a_cuda_rag_case_places_generator_embedder_and_judge_on_its_device(
        pytester: pytest.Pytester, placements):
    fixtures = BENCHMARKS.parent / "fixtures" / "rag"
    one_question = pytester.path / "qa.jsonl"  # the least work that runs every model
    one_question.write_text((fixtures / "qa.jsonl").read_text().splitlines()[0] + "\n")
    pairs = pytester.path / "pairs.jsonl"
    pairs.write_text((fixtures / "judge_pairs.jsonl").read_text().splitlines()[0] + "\n")
    result = pytester.inline_run(
        str(BENCHMARKS / "test_rag.py"), "-m", "gpu", "-k", "test_rag and multi-query",
        "--bench-profile", "smoke", "--judge", "smollm2-135m", "--judge-pairs", str(pairs),
        "--rag-qa", str(one_question), "--update-baselines", "--bench-repeats", "1",
        "--baseline-dir", str(pytester.path / "baselines"),
        "--bench-report", str(pytester.path / "report"), "--no-bench-history",
        "-p", "no:cacheprovider", "-p", "no:randomly")
    passed, skipped, failed = result.listoutcomes()
    assert [report.nodeid.split("::")[-1] for report in passed] == [
        "test_rag[smollm2-135m+multi-query-cuda]"]
    assert not failed and not skipped
    # multi-query: the generator's model (which writes the query variants, and which the
    # offline judge shares: one copy per device) and the embedder, all on cuda
    assert sorted(set(placements)) == [("embedder", "cuda"), ("smollm2-135m", "cuda")]
