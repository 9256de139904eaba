"""Which phrases a model over-uses: weighted log-odds with an informative Dirichlet prior, and where they occur.

Monroe, Colaresi & Quinn (2008), "Fightin' Words", §3.5: for an n-gram ``w`` with counts ``y_w`` in the target
corpus (``n`` tokens) and ``r_w`` in the reference (``m`` tokens), and a prior ``α_w = α0 · (y_w + r_w)/(n + m)``
(the pooled frequency, scaled to ``α0`` pseudo-counts),

    δ_w = log[(y_w + α_w) / (n + α0 − y_w − α_w)] − log[(r_w + α_w) / (m + α0 − r_w − α_w)]
    σ²_w ≈ 1/(y_w + α_w) + 1/(r_w + α_w),        z_w = δ_w / σ_w

Positive ``z`` marks what the target over-uses. N-grams are counted with scikit-learn's ``CountVectorizer``;
n-grams made only of stop words are dropped, as is an n-gram when a longer one containing it carries the same
evidence (so "to help" does not crowd out "I'm here to help").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EvaluationError

TOKEN_PATTERN = r"(?u)\b\w[\w'’-]*\b"


@dataclass(frozen=True)
class PhraseScore:
    """One n-gram's over-use in the target corpus against the reference."""

    phrase: str
    z: float
    delta: float
    count: int  # occurrences in the target corpus
    count_reference: int
    documents: int  # target texts that contain it


def _counts(texts: Sequence[str], vocabulary: Sequence[str] | None, ngrams: tuple[int, int]):
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(ngram_range=ngrams, token_pattern=TOKEN_PATTERN, lowercase=True, vocabulary=vocabulary)
    matrix = vec.fit_transform([t.replace("’", "'") for t in texts])
    return vec, matrix


def log_odds(target: Sequence[str], reference: Sequence[str], *, alpha0: float = 500.0,
             ngrams: tuple[int, int] = (1, 5), min_count: int = 3, min_documents: int = 2,
             top: int | None = None) -> list[PhraseScore]:
    """Phrases of ``target`` ranked by their log-odds z-score against ``reference`` (see module doc)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    if not [t for t in target if t.strip()] or not [t for t in reference if t.strip()]:
        raise EvaluationError("log-odds needs non-empty target and reference texts",
                              hint="generate answers first, and give a reference (plain answers or a text file)")
    if alpha0 <= 0:
        raise EvaluationError(f"alpha0 = {alpha0}", hint="the prior's pseudo-count total must be positive")
    try:
        vec, tmat = _counts(target, None, ngrams)
    except ValueError:  # scikit-learn: "empty vocabulary"
        raise EvaluationError("the texts hold no words to count",
                              hint="check the generations (a random model writes punctuation only)") from None
    vocab = vec.get_feature_names_out()
    _, rmat = _counts(reference, list(vocab), ngrams)
    y = np.asarray(tmat.sum(axis=0)).ravel().astype(float)
    r = np.asarray(rmat.sum(axis=0)).ravel().astype(float)
    docs = np.asarray((tmat > 0).sum(axis=0)).ravel()
    orders = np.array([len(v.split()) for v in vocab])
    out: list[PhraseScore] = []
    t_lengths, r_lengths = _lengths(vec, target), _lengths(vec, reference)
    for order in range(ngrams[0], ngrams[1] + 1):  # each n-gram order has its own token total
        idx = np.where(orders == order)[0]
        # totals count every n-gram position of each corpus (the reference's are not limited to the target's words)
        n = float(np.clip(t_lengths - order + 1, 0, None).sum())
        m = float(np.clip(r_lengths - order + 1, 0, None).sum())
        alpha = alpha0 * (y[idx] + r[idx]) / max(n + m, 1.0)
        delta = (np.log((y[idx] + alpha) / (n + alpha0 - y[idx] - alpha))
                 - np.log((r[idx] + alpha) / (m + alpha0 - r[idx] - alpha)))
        z = delta / np.sqrt(1.0 / (y[idx] + alpha) + 1.0 / (r[idx] + alpha))
        for k, i in enumerate(idx):
            words = vocab[i].split()
            if y[i] < min_count or docs[i] < min_documents or all(w in ENGLISH_STOP_WORDS for w in words):
                continue
            out.append(PhraseScore(str(vocab[i]), float(z[k]), float(delta[k]), int(y[i]), int(r[i]), int(docs[i])))
    out.sort(key=lambda p: -p.z)
    kept: list[PhraseScore] = []
    for p in out:  # a shorter phrase inside a kept longer one with (almost) the same count adds nothing
        if p.z <= 0:
            continue
        if any(_inside(p.phrase, k.phrase) and k.count >= 0.8 * p.count for k in kept):
            continue
        kept = [k for k in kept if not (_inside(k.phrase, p.phrase) and p.count >= 0.8 * k.count)] + [p]
    kept.sort(key=lambda p: -p.z)
    return kept[:top] if top else kept


def _lengths(vec, texts: Sequence[str]) -> np.ndarray:
    """Word tokens per text, as the vectorizer splits them."""
    tokenize = vec.build_tokenizer()
    return np.array([len(tokenize(t.replace("’", "'").lower())) for t in texts])


def _inside(short: str, long: str) -> bool:
    return short != long and f" {short} " in f" {long} "


@dataclass(frozen=True)
class Occurrence:
    """One place a phrase was written: the answer's prompt, the answer up to the phrase, and the phrase as written."""

    prompt: str
    prefix: str  # the answer's text before the phrase
    written: str  # the phrase as it appears (case kept)


def occurrences(pairs: Sequence[tuple[str, str]], phrase: str, *, limit: int | None = None) -> list[Occurrence]:
    """Every occurrence of ``phrase`` (word boundaries, case-insensitive) in (prompt, answer) pairs."""
    words = [re.escape(w) for w in phrase.split()]
    if not words:
        raise EvaluationError("cannot look for an empty phrase")
    pattern = re.compile(r"(?<![\w'])" + r"\s+".join(words) + r"(?![\w'])", re.IGNORECASE)
    out: list[Occurrence] = []
    for prompt, answer in pairs:
        text = answer.replace("’", "'")
        for match in pattern.finditer(text):
            out.append(Occurrence(prompt, text[: match.start()], match.group(0)))
            if limit is not None and len(out) >= limit:
                return out
    return out
