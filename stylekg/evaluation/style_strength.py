"""Style strength of texts: marker rate, a light TF-IDF style classifier, and an optional LLM judge.

- Marker rate: the fraction of texts containing a marker, matched case-insensitively on word
  boundaries (multi-word markers allow any whitespace between words; curly apostrophes count as
  straight ones; a marker that starts/ends with punctuation is bounded by non-word characters).
- Classifier: TF-IDF (word 1-2-grams + char 2-4-grams within word boundaries) + logistic
  regression, trained on example sentences per style (the library's examples). Light and fast;
  the style strength of texts is the mean predicted probability of the wanted style.
- LLM judge: any object with ``complete_json(prompt, schema) -> dict`` (the ``openai`` provider
  of :mod:`stylekg.kg.llm`), asked "is this text in the style of X?".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from ..errors import ClassifierError, JudgeError

log = logging.getLogger(__name__)


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')


@lru_cache(maxsize=4096)
def marker_pattern(marker: str) -> re.Pattern[str]:
    """Case-insensitive pattern of a marker on word boundaries (``(?<!\\w)`` / ``(?!\\w)``)."""
    words = _normalise(marker).strip().split()
    if not words:
        raise ClassifierError("an empty marker cannot be matched", hint="give markers as non-empty strings")
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def count_marker(text: str, marker: str) -> int:
    """Occurrences of ``marker`` in ``text`` (non-overlapping, word-bounded, case-insensitive)."""
    return len(marker_pattern(marker).findall(_normalise(text)))


def has_marker(text: str, marker: str) -> bool:
    return marker_pattern(marker).search(_normalise(text)) is not None


@dataclass(frozen=True)
class MarkerRate:
    """How often markers occur in a set of texts."""

    per_marker: dict[str, float]  # marker → fraction of texts containing it
    any_marker: float  # fraction of texts containing at least one marker
    per_100_words: float  # marker occurrences per 100 words
    n_texts: int


def marker_rate(texts: Sequence[str], markers: Sequence[str]) -> MarkerRate:
    """Marker rate of ``texts`` (empty texts count as texts without markers)."""
    if not texts:
        return MarkerRate({m: 0.0 for m in markers}, 0.0, 0.0, 0)
    hits = {m: [has_marker(t, m) for t in texts] for m in markers}
    per = {m: float(np.mean(h)) for m, h in hits.items()}
    any_hit = float(np.mean([any(hits[m][i] for m in markers) for i in range(len(texts))])) if markers else 0.0
    words = sum(len(t.split()) for t in texts)
    occurrences = sum(count_marker(t, m) for t in texts for m in markers)
    return MarkerRate(per, any_hit, 100.0 * occurrences / words if words else 0.0, len(texts))


class StyleClassifier:
    """TF-IDF + logistic regression over example sentences labelled by style."""

    def __init__(self, *, C: float = 4.0, seed: int = 0) -> None:
        self.C = C
        self.seed = seed
        self.pipeline: Any = None
        self.classes: list[str] = []

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "StyleClassifier":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        if len(texts) != len(labels):
            raise ClassifierError(f"{len(texts)} texts but {len(labels)} labels")
        pairs = [(t, l) for t, l in zip(texts, labels) if t and t.strip()]
        classes = sorted({l for _, l in pairs})
        if len(classes) < 2:
            raise ClassifierError(
                f"a style classifier needs example sentences of at least two styles, got {classes or 'none'}",
                hint="add examples of another style (or of the Neutral style) to the training set",
            )
        features = FeatureUnion(
            [
                ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
            ]
        )
        self.pipeline = make_pipeline(features, LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed))
        self.pipeline.fit([_normalise(t) for t, _ in pairs], [l for _, l in pairs])
        self.classes = [str(c) for c in self.pipeline.classes_]
        return self

    @classmethod
    def from_examples(cls, examples: Mapping[str, Sequence[str]], **kwargs: Any) -> "StyleClassifier":
        """Train from ``{style: [example sentences]}``."""
        texts = [t for style, ts in examples.items() for t in ts]
        labels = [style for style, ts in examples.items() for _ in ts]
        return cls(**kwargs).fit(texts, labels)

    def _check(self) -> None:
        if self.pipeline is None:
            raise ClassifierError("the style classifier is not trained", hint="call fit() or from_examples() first")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_styles) probabilities, columns in ``self.classes`` order."""
        self._check()
        return self.pipeline.predict_proba([_normalise(t) for t in texts])

    def predict(self, texts: Sequence[str]) -> list[str]:
        self._check()
        return [str(p) for p in self.pipeline.predict([_normalise(t) for t in texts])]

    def strength(self, texts: Sequence[str], style: str) -> float:
        """Mean probability that ``texts`` are in ``style`` (the classifier's style strength)."""
        self._check()
        if style not in self.classes:
            raise ClassifierError(f"the classifier knows no style {style!r}", hint=f"known: {', '.join(self.classes)}")
        if not texts:
            raise ClassifierError("no texts to classify")
        return float(self.predict_proba(texts)[:, self.classes.index(style)].mean())


# ---- LLM judge ------------------------------------------------------------------------------
class JSONCompleter(Protocol):
    """The LLM client surface the judge needs (the kg engineer's ``openai`` provider has it)."""

    def complete_json(self, prompt: str, schema: Mapping[str, Any]) -> Mapping[str, Any]: ...


JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"in_style": {"type": "boolean"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["in_style", "confidence"],
    "additionalProperties": False,
}

JUDGE_PROMPT = (
    "You judge writing style. Is the following text written in the style of {style}? "
    "Judge the style only (word choice, phrasing, grammar, tone), not whether the content is true.\n\n"
    "Text:\n\"\"\"\n{text}\n\"\"\"\n\n"
    'Answer as JSON: {{"in_style": true or false, "confidence": a number from 0 to 1}}.'
)


@dataclass(frozen=True)
class Verdict:
    in_style: bool
    confidence: float

    @property
    def style_probability(self) -> float:
        """The judge's probability that the text is in style (confidence mapped onto in/out)."""
        return self.confidence if self.in_style else 1.0 - self.confidence


class LLMJudge:
    """Ask an LLM (injected client) whether texts are in a style; validate every answer."""

    def __init__(self, client: JSONCompleter, *, prompt: str = JUDGE_PROMPT) -> None:
        if not callable(getattr(client, "complete_json", None)):
            raise JudgeError(f"{type(client).__name__} has no complete_json(prompt, schema) method")
        self.client = client
        self.prompt = prompt

    def judge(self, text: str, style: str) -> Verdict:
        answer = self.client.complete_json(self.prompt.format(style=style, text=text), JUDGE_SCHEMA)
        return parse_verdict(answer)

    def strength(self, texts: Sequence[str], style: str) -> dict[str, float]:
        """``{in_style_rate, mean_confidence, style_probability}`` over ``texts``."""
        if not texts:
            raise JudgeError("no texts to judge")
        verdicts = [self.judge(t, style) for t in texts]
        return {
            "in_style_rate": float(np.mean([v.in_style for v in verdicts])),
            "mean_confidence": float(np.mean([v.confidence for v in verdicts])),
            "style_probability": float(np.mean([v.style_probability for v in verdicts])),
        }


def parse_verdict(answer: Any) -> Verdict:
    """A :class:`Verdict` from a judge's JSON answer, or a :class:`JudgeError` naming the problem."""
    if not isinstance(answer, Mapping):
        raise JudgeError(f"the judge answered {type(answer).__name__}, not a JSON object")
    in_style, confidence = answer.get("in_style"), answer.get("confidence")
    if not isinstance(in_style, bool):
        raise JudgeError(f"the judge's in_style is {in_style!r}, not true/false")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
        raise JudgeError(f"the judge's confidence is {confidence!r}, not a number in [0, 1]")
    return Verdict(in_style, float(confidence))
