"""Answer and retrieval metrics on inputs whose values are known by hand."""

from __future__ import annotations

import gzip
import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmbench.suites.rag import metrics, wordnet
from llmbench.suites.rag.wordnet import WordNetUnavailable


def test_tokenize_lowercases_and_splits_punctuation():
    assert metrics.tokenize("The Cat, sat.") == ["the", "cat", ",", "sat", "."]


def test_bleu_identical_is_one():
    assert metrics.bleu(["The cat sat on the mat."], ["the cat sat on the mat."]) == \
        pytest.approx(1.0)


def test_bleu_matches_the_hand_computed_value():
    # p1 = 5/6, p2 = 3/5, p3 = 2/4, p4 = 1/3, equal lengths (no brevity penalty)
    expected = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert metrics.bleu(["the cat sat on the mat"], ["the cat sat on a mat"]) == \
        pytest.approx(expected)


def test_bleu_smoothing_is_nist_geometric():
    # p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0/1 -> method3 counts it as 1 / (2^1 * 1)
    expected = (3 / 4 * 2 / 3 * 1 / 2 * 1 / 2) ** 0.25
    assert metrics.bleu(["a b c d"], ["a b c e"]) == pytest.approx(expected)


def test_bleu_is_corpus_level_not_a_mean():
    both = metrics.bleu(["a b c d", "x y"], ["a b c d", "p q"])
    mean = (metrics.bleu(["a b c d"], ["a b c d"]) + metrics.bleu(["x y"], ["p q"])) / 2
    assert both != pytest.approx(mean)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        metrics.bleu(["a", "b"], ["a"])


def test_rouge_uses_stemming():
    scores = metrics.rouge(["cats running"], ["cat runs"])
    assert scores == {"rouge1": pytest.approx(1.0), "rouge2": pytest.approx(1.0),
                      "rougeL": pytest.approx(1.0)}


def test_rouge_partial_overlap():
    # unigrams: 2 of 3 on each side -> F1 = 2/3; bigrams: 1 of 2 -> 1/2
    scores = metrics.rouge(["red big lanyard"], ["red big badge"])
    assert scores["rouge1"] == pytest.approx(2 / 3)
    assert scores["rouge2"] == pytest.approx(1 / 2)


DEBIAN_WORDNET = Path("/usr/share/wordnet")  # where Debian's wordnet-base puts the database


def wordnet_installed() -> bool:
    """Whether this machine has WordNet, probed without the code under test: Debian's database
    files, or nltk's own corpus."""
    import nltk

    if (DEBIAN_WORDNET / "data.noun").is_file():
        return True
    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        return False
    return True


@pytest.fixture
def real_wordnet():
    """The reader ``load_wordnet`` finds. Where WordNet is installed, its failure to find it
    (``WordNetUnavailable``) is this test's failure, not a skip."""
    if not wordnet_installed():
        pytest.skip("WordNet is not installed here: apt-get install wordnet-base "
                    "wordnet-sense-index")
    return wordnet.load_wordnet()


def test_meteor_counts_wordnet_synonyms(real_wordnet):
    # "car" and "auto" share a WordNet synset but no stem: only synonyms can match them.
    # (nltk looks synonyms up after Porter stemming, so the pair must survive the stemmer:
    # "automobile" becomes "automobil" and would not match.)
    assert metrics.meteor(["car"], ["auto"]) == pytest.approx(0.5)  # 1 match, 1 chunk
    assert metrics.meteor(["banana"], ["auto"]) == 0.0


def test_meteor_exact_match_is_near_one(real_wordnet):
    assert metrics.meteor(["the red lanyard"], ["the red lanyard"]) > 0.95


def test_lexnames_has_the_45_wordnet_files():
    lines = wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


MAN_PAGE = Path("/usr/share/man/man5/lexnames.5WN.gz")


@pytest.mark.skipif(not MAN_PAGE.is_file(), reason="Debian's wordnet-base man page not installed")
def test_lexnames_agree_with_the_man_page():
    table = re.findall(r"^(\d\d)\t(\S+)\s*\t", gzip.open(MAN_PAGE, "rt").read(), re.M)
    assert [name for _, name in table] == list(wordnet.LEXNAMES)


def test_missing_wordnet_is_reported_with_how_to_install(tmp_path, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "no-nltk-data")])
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path / "no-wordnet"))
    monkeypatch.setenv("LLMBENCH_CACHE", str(tmp_path / "cache"))
    wordnet.load_wordnet.cache_clear()
    try:
        with pytest.raises(WordNetUnavailable, match="apt-get install wordnet-base "
                                                     "wordnet-sense-index"):
            metrics.meteor(["car"], ["automobile"])
    finally:
        wordnet.load_wordnet.cache_clear()


def test_incomplete_wordnet_dir_names_the_missing_files(tmp_path):
    source = tmp_path / "dict"
    source.mkdir()
    (source / "data.noun").write_text("")
    with pytest.raises(WordNetUnavailable, match="lacks cntlist.rev, index.sense"):
        wordnet.build_nltk_wordnet_dir(source, tmp_path / "nltk_data")


def test_recall_rank_and_ndcg_single_relevant():
    ranked = ["a", "b", "c"]
    assert metrics.recall(ranked, ["b"]) == 1.0
    assert metrics.reciprocal_rank(ranked, ["b"]) == 0.5
    assert metrics.ndcg(ranked, ["b"]) == pytest.approx(1 / math.log2(3))


def test_recall_rank_and_ndcg_two_relevant():
    ranked = ["a", "b", "c"]
    assert metrics.recall(ranked, ["b", "d"]) == 0.5
    assert metrics.ndcg(ranked, ["b", "d"]) == pytest.approx((1 / math.log2(3)) /
                                                             (1 + 1 / math.log2(3)))
    assert metrics.ndcg(["b", "d"], ["b", "d"]) == pytest.approx(1.0)


def test_nothing_relevant_retrieved():
    assert metrics.recall(["x"], ["a"]) == 0.0
    assert metrics.reciprocal_rank(["x"], ["a"]) == 0.0
    assert metrics.ndcg(["x"], ["a"]) == 0.0
    with pytest.raises(ValueError):
        metrics.recall(["x"], [])


def test_percentiles_interpolate():
    assert metrics.percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert metrics.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)


def _fake_evaluate(monkeypatch, load):
    monkeypatch.setitem(sys.modules, "evaluate", SimpleNamespace(load=load))


def test_evaluate_metric_flattens_numeric_outputs(monkeypatch):
    module = SimpleNamespace(compute=lambda predictions, references: {
        "f1": [1.0, 0.5], "precision": 0.25, "hashcode": "roberta-large_L17", "ok": True})
    _fake_evaluate(monkeypatch, lambda name: module)
    scores = metrics.evaluate_metric("evaluate:bertscore", ["a", "b"], ["a", "c"])
    assert scores == {"bertscore_f1": 0.75, "bertscore_precision": 0.25}


def test_evaluate_metric_without_hub_is_unavailable(monkeypatch):
    def offline(name):
        raise ConnectionError("Couldn't reach 'bertscore' on the Hub (LocalEntryNotFoundError)")
    _fake_evaluate(monkeypatch, offline)
    with pytest.raises(metrics.MetricUnavailable, match="hub is unreachable"):
        metrics.evaluate_metric("evaluate:bertscore", ["a"], ["a"])


def test_evaluate_spec_must_name_a_metric():
    with pytest.raises(ValueError, match="evaluate:<name>"):
        metrics.evaluate_metric("bertscore", ["a"], ["a"])
