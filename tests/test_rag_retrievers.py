"""Retrievers on a tiny corpus: ranking, fusion, multi-query union, k, bad names."""

from __future__ import annotations

import pytest

from llmbench.suites.rag.data import load_corpus
from llmbench.suites.rag.generators import Completion, Generator
from llmbench.suites.rag.retrievers import (
    RETRIEVER_NAMES,
    UnknownRetrieverError,
    build_retriever,
    parse_query_variants,
)

DOCS = {
    "lanyards": "Visitors wear red lanyards and staff wear blue lanyards at the front desk.",
    "canteen": "The canteen serves fish soup every Friday and coffee all day.",
    "parking": "Parking spaces in the garage are booked one day ahead.",
    "vehicles": "The company's electric vans are called Limpet and Barnacle.",
    "leave": "Employees receive 27 days of annual leave per year.",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for doc_id, text in DOCS.items():
        (root / f"{doc_id}.md").write_text(text)
    return load_corpus(root)


def _ids(retrieval):
    return [p.doc_id for p in retrieval.passages]


def test_none_retrieves_nothing(corpus):
    retrieval = build_retriever("none", corpus).retrieve("anything")
    assert retrieval.passages == []


def test_bm25_ranks_by_shared_words(corpus):
    retriever = build_retriever("bm25", corpus, k=2)
    assert _ids(retriever.retrieve("Which soup is served on Friday?"))[0] == "canteen"
    assert _ids(retriever.retrieve("what colour are the visitor lanyards"))[0] == "lanyards"


def test_bm25_returns_nothing_without_a_shared_word(corpus):
    retriever = build_retriever("bm25", corpus, k=3)
    assert _ids(retriever.retrieve("What are the battery-powered trucks named?")) == []
    assert _ids(retriever.retrieve("the and of")) == []  # stop words only


def test_bm25_stems_and_keeps_numbers(corpus):
    retriever = build_retriever("bm25", corpus, k=1)
    assert _ids(retriever.retrieve("27")) == ["leave"]
    assert _ids(retriever.retrieve("booking")) == ["parking"]  # book -> booked


@pytest.fixture(scope="module")
def dense(corpus):
    return build_retriever("dense", corpus, k=3)


def test_dense_finds_a_paraphrase(dense):
    assert _ids(dense.retrieve("What are the battery-powered trucks named?"))[0] == "vehicles"
    assert _ids(dense.retrieve("How much vacation do workers get?"))[0] == "leave"


def test_k_limits_and_is_clamped_to_the_corpus(corpus, dense):
    assert len(dense.retrieve("soup").passages) == 3
    everything = build_retriever("bm25", corpus, k=50)
    assert everything.k == len(DOCS)


def _rrf(rankings, weights, c=60):
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (rank + c)
    order = list(dict.fromkeys(d for ranking in rankings for d in ranking))
    return sorted(order, key=lambda d: -scores[d])


@pytest.mark.parametrize("question", ["Which soup is served on Friday?",
                                      "Who wears blue at the desk?",
                                      "How many days off per year?"])
def test_ensemble_is_weighted_reciprocal_rank_fusion(corpus, question):
    dense_ids = _ids(build_retriever("dense", corpus, k=2).retrieve(question))
    bm25_ids = _ids(build_retriever("bm25", corpus, k=2).retrieve(question))
    fused = build_retriever("ensemble", corpus, k=2, ensemble_weights=(0.3, 0.7))
    assert _ids(fused.retrieve(question)) == _rrf([dense_ids, bm25_ids], [0.3, 0.7])[:2]


def test_ensemble_with_zero_bm25_weight_is_dense(corpus):
    question = "Where do I park my car?"
    fused = build_retriever("ensemble", corpus, k=2, ensemble_weights=(1.0, 0.0))
    assert _ids(fused.retrieve(question)) == \
        _ids(build_retriever("dense", corpus, k=2).retrieve(question))


class ScriptedGenerator(Generator):
    spec = "scripted"

    def __init__(self, text):
        self.text = text
        self.prompts = []

    def generate(self, prompts, *, max_new_tokens, batch_size=1):
        self.prompts += prompts
        return [Completion(self.text, 50, 12, 0.1) for _ in prompts]


def test_multi_query_unions_the_variants_results(corpus):
    generator = ScriptedGenerator("1. fish soup on Fridays\n2. booking a garage space\n")
    retriever = build_retriever("multi-query", corpus, k=1, generator=generator)
    retrieval = retriever.retrieve("What colour are visitor lanyards?")
    assert _ids(retrieval) == ["lanyards", "canteen", "parking"]  # the question's top 1 first
    assert retrieval.queries == ["What colour are visitor lanyards?", "fish soup on Fridays",
                                 "booking a garage space"]
    assert (retrieval.prompt_tokens, retrieval.completion_tokens) == (50, 12)
    [prompt] = generator.prompts  # LangChain's multi-query prompt, filled with the question
    assert "3 different versions" in prompt[0]["content"]
    assert "What colour are visitor lanyards?" in prompt[0]["content"]


def test_multi_query_with_useless_variants_equals_dense(corpus):
    generator = ScriptedGenerator("1.1.1.1\n-\n")
    retriever = build_retriever("multi-query", corpus, k=2, generator=generator)
    question = "How much vacation do workers get?"
    assert _ids(retriever.retrieve(question)) == \
        _ids(build_retriever("dense", corpus, k=2).retrieve(question))


def test_multi_query_needs_a_generator(corpus):
    with pytest.raises(ValueError, match="needs the generator"):
        build_retriever("multi-query", corpus)


def test_parse_query_variants():
    text = ("Here are three versions:\n1. What is A?\n2) What is B?\n- What is A?\n"
            "\"What is C?\"\nOriginal?\n1.1.1\n5. What is D?")
    assert parse_query_variants(text, "original?") == ["What is A?", "What is B?", "What is C?"]


def test_unknown_retriever_lists_the_valid_ones(corpus):
    with pytest.raises(UnknownRetrieverError, match="valid: " + ", ".join(RETRIEVER_NAMES)):
        build_retriever("colbert", corpus)


def test_k_must_be_positive(corpus):
    with pytest.raises(ValueError, match="k must be >= 1"):
        build_retriever("bm25", corpus, k=0)


def test_a_corpus_is_embedded_once_and_queries_every_time(corpus, monkeypatch):
    from llmbench.suites.rag import retrievers

    embeddings = retrievers.sentence_embeddings(retrievers.BUNDLED_EMBEDDER)
    encoded: list[int] = []
    encode = embeddings.model.encode

    def counting(texts, **kwargs):
        encoded.append(len(texts))
        return encode(texts, **kwargs)

    monkeypatch.setattr(embeddings.model, "encode", counting)
    fresh = retrievers.SentenceEmbeddings(embeddings.model).embed_documents(
        [p.text for p in corpus.passages])
    encoded.clear()
    first = build_retriever("dense", corpus, k=2)
    second = build_retriever("ensemble", corpus, k=2)  # the same passages: no second pass
    assert encoded in ([], [len(corpus.passages)])  # an earlier test may have indexed them
    assert embeddings.embed_documents([p.text for p in corpus.passages]) == fresh
    encoded.clear()
    first.retrieve("Which soup is served on Friday?")
    second.retrieve("Which soup is served on Friday?")
    assert encoded == [1, 1]  # a query's embedding is retrieval work: never memoized
