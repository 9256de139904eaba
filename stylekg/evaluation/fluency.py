"""Fluency (weighted n-gram entropy) and consistency (TF-IDF cosine), as the ROME/MEMIT reference.

Fluency (Meng et al. 2022, §4.2 / App. "generation entropy"): for each generated text, the
entropy in bits of its bigram and trigram frequency distributions, weighted ``2/3`` and ``4/3``
and averaged arithmetically, ``(2/3·H2 + 4/3·H3) / 2``; the texts' values are then averaged.
A text that repeats itself has low entropy. The reference splits words with ``nltk.word_tokenize``
(whose sentence model is a data download); :func:`word_tokenize` here follows its Treebank rules
(punctuation split off, ``n't``/``'s``/``'re``... as separate tokens) without any download.

Consistency: the cosine similarity of TF-IDF vectors of the concatenated generations and the
concatenated reference texts, with the vectorizer fitted on a reference corpus (the reference
fits it on Wikipedia; here the caller's reference texts or the style library's examples).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import EvaluationError

NGRAM_ORDERS: tuple[int, ...] = (2, 3)
NGRAM_WEIGHTS: tuple[float, ...] = (2 / 3, 4 / 3)

_CONTRACTION = re.compile(r"(?i)^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")
_WORD = re.compile(r"\d+(?:[.,]\d+)+|\w+(?:[-']\w+)*|\.\.\.|--|[^\w\s]")


def word_tokenize(text: str) -> list[str]:
    """Treebank-style word tokens: words, numbers, contractions split, punctuation alone."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    tokens: list[str] = []
    for tok in _WORD.findall(text):
        match = _CONTRACTION.match(tok)
        if match and match.group(1).isalpha():
            tokens.extend([match.group(1), match.group(2)])
        else:
            tokens.append(tok)
    return tokens


def ngram_entropy_of_tokens(
    tokens: Sequence[str], orders: Sequence[int] = NGRAM_ORDERS, weights: Sequence[float] = NGRAM_WEIGHTS
) -> float:
    """Arithmetic mean over ``orders`` of ``weight_n · H(n-gram distribution)`` in bits.

    An order with no n-gram (text too short) contributes 0, as the reference's empty sum does.
    """
    if len(orders) != len(weights):
        raise EvaluationError("n-gram orders and weights differ in length")
    parts = []
    for n, w in zip(orders, weights):
        counts = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        total = sum(counts.values())
        h = -sum((c / total) * math.log2(c / total) for c in counts.values()) if total else 0.0
        parts.append(w * h)
    return float(np.mean(parts))


def ngram_entropy(texts: Iterable[str]) -> float:
    """Fluency of generations: the mean of each text's weighted bi/tri-gram entropy."""
    values = [ngram_entropy_of_tokens(word_tokenize(t)) for t in texts]
    if not values:
        raise EvaluationError("no generated text to score for fluency")
    return float(np.mean(values))


class ConsistencyScorer:
    """TF-IDF cosine between generations and reference text, fitted once on a reference corpus."""

    def __init__(self, corpus: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = [d for d in corpus if d and d.strip()]
        if not docs:
            raise EvaluationError(
                "consistency needs reference texts and none were given",
                hint="pass reference_texts (or --reference FILE), e.g. the style library's example sentences",
            )
        self.vectorizer = TfidfVectorizer()
        try:
            self.vectorizer.fit(docs)
        except ValueError as exc:  # e.g. only stop words / punctuation
            raise EvaluationError(f"cannot fit TF-IDF on the reference texts ({exc})") from None

    def similarity(self, generated: Sequence[str], reference: Sequence[str]) -> float:
        """Cosine of TF-IDF(" ".join(generated)) and TF-IDF(" ".join(reference)); 0 if either is empty.

        (The reference divides by the norms unguarded and would give NaN for an all-unknown text.)
        """
        encs = self.vectorizer.transform([" ".join(generated), " ".join(reference)]).toarray()
        norms = np.linalg.norm(encs, axis=1)
        if (norms == 0).any():
            return 0.0
        return float(encs[0] @ encs[1] / norms[0] / norms[1])
