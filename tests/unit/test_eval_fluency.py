"""n-gram entropy on hand-made token lists, the tokenizer, and TF-IDF consistency."""

from __future__ import annotations

import math

import pytest

from stylekg.errors import EvaluationError
from stylekg.evaluation.fluency import ConsistencyScorer, ngram_entropy, ngram_entropy_of_tokens, word_tokenize


def h(ps):
    return -sum(p * math.log2(p) for p in ps)


def test_entropy_of_hand_made_tokens():
    # bigrams: (a,b) x2, (b,a) x1 -> H2 = h(2/3, 1/3); trigrams: (a,b,a), (b,a,b) -> H3 = 1 bit
    value = ngram_entropy_of_tokens(["a", "b", "a", "b"])
    assert value == pytest.approx((2 / 3 * h([2 / 3, 1 / 3]) + 4 / 3 * 1.0) / 2)
    # all distinct: 4 bigrams, 3 trigrams uniform
    value = ngram_entropy_of_tokens(["w", "x", "y", "z", "v"])
    assert value == pytest.approx((2 / 3 * 2.0 + 4 / 3 * math.log2(3)) / 2)


def test_degenerate_texts_have_zero_entropy():
    assert ngram_entropy_of_tokens(["same"] * 10) == 0.0
    assert ngram_entropy_of_tokens(["one"]) == 0.0  # no bigram at all: the empty sum is 0
    assert ngram_entropy_of_tokens([]) == 0.0


def test_repetitive_generation_is_less_fluent_than_varied():
    loop = "the best the best the best the best the best the best"
    varied = "The harbour was quiet at dawn, and two gulls argued over a crust near the old pier."
    assert ngram_entropy([loop]) < ngram_entropy([varied])
    assert ngram_entropy([loop, varied]) == pytest.approx((ngram_entropy([loop]) + ngram_entropy([varied])) / 2)
    with pytest.raises(EvaluationError):
        ngram_entropy([])


def test_word_tokenize_follows_treebank_rules():
    assert word_tokenize("I don't know, really.") == ["I", "do", "n't", "know", ",", "really", "."]
    assert word_tokenize("She’s 3.5 km away -- well-known!") == ["She", "'s", "3.5", "km", "away", "--", "well-known", "!"]


def test_consistency_is_a_tfidf_cosine():
    corpus = ["Paris is the capital of France.", "Rome is the capital of Italy.", "Berlin has many museums."]
    scorer = ConsistencyScorer(corpus)
    assert scorer.similarity(["Paris is the capital of France."], ["Paris is the capital of France."]) == pytest.approx(1.0)
    assert scorer.similarity(["Berlin has many museums"], ["Rome Italy"]) == 0.0
    partial = scorer.similarity(["Paris is lovely"], ["Paris is the capital of France."])
    assert 0.0 < partial < 1.0
    assert scorer.similarity(["zzz qqq"], ["Paris"]) == 0.0  # unknown words only: 0, not NaN
    # joins all generations like the reference (" ".join) before comparing
    assert scorer.similarity(["Paris is", "the capital of France."], ["Paris is the capital of France."]) == pytest.approx(1.0)


def test_consistency_needs_a_corpus():
    with pytest.raises(EvaluationError, match="reference texts"):
        ConsistencyScorer(["", "  "])
