"""Style in the text a model writes: sample answers to a prompt set and score them as a reader would.

A style that is "erased" on a few teacher-forced marker prompts can be untouched in what the model writes
(*The Mirage of Model Editing*, ACL 2025). This meter judges generations:

1. **marker rate** per 1,000 generated tokens: the style's markers with their inflections and variants,
   matched case-insensitively on word boundaries, with a bootstrap 95% interval over prompts;
2. **style classifier**: TF-IDF + logistic regression fitted on the style's example texts against neutral
   texts; its held-out accuracy is reported next to its probability, so a weak classifier shows;
3. **LLM judge** (optional): style strength and fluency, each 0-100, through any OpenAI-compatible endpoint;
4. **fluency**: perplexity of the generations under the *unedited* model, distinct-2, and the repetition rate
   (share of generations repeating a 4-gram three times or more);
5. **capability kept**: top-1 on facts the model knows.

Generations are cached on disk under a key of the model's weights, the prompts and the sampling settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ClassifierError, EvaluationError, MaterialError
from ..lm.cache import read_checked_json, reject_entry, write_checked_json
from ..lm.generation import Sample, chat_prompt, sample
from ..lm.hooks import has_forward_hooks
from ..lm.placement import state_tensors
from ..material import Marker, StyleMaterial
from ..paths import cache_dir, sha256_text
from .generation_judge import RATING_PROMPT, RATING_SCHEMA, GenerationJudge, parse_rating
from .scoring import HasModel, score_continuations
from .style_strength import StyleClassifier, marker_pattern

log = logging.getLogger(__name__)
GENERATIONS_SCHEMA = 1  # checked-entry schema of a cached generations file

NEUTRAL_LABEL = "neutral"


# ---- sampling ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingSettings:
    """How answers are drawn: ``k`` per prompt; greedy when ``temperature == 0`` (then ``k`` is 1)."""

    k: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 96
    seed: int = 0
    chat: bool = True  # apply the chat template when the tokenizer has one
    system: str | None = None  # a system instruction before every prompt (the prompting baseline)

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise EvaluationError(f"k = {self.k!r} samples per prompt", hint="use k >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise EvaluationError(f"temperature {self.temperature} / top-p {self.top_p} out of range",
                                  hint="temperature >= 0 (0 = greedy), 0 < top-p <= 1")
        if self.temperature == 0 and self.k != 1:
            raise EvaluationError(f"greedy decoding gives one answer per prompt, not k = {self.k}",
                                  hint="use k = 1, or a temperature > 0 for samples")
        if self.max_new_tokens < 1:
            raise EvaluationError(f"max_new_tokens = {self.max_new_tokens}", hint="use at least 1")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


GREEDY = SamplingSettings()
SAMPLED = SamplingSettings(k=3, temperature=0.7, top_p=0.9)


@dataclass(frozen=True)
class Generations:
    """Answers to a prompt set: ``samples[i]`` are the ``k`` answers to ``prompts[i]``."""

    prompts: tuple[str, ...]
    samples: tuple[tuple[Sample, ...], ...]
    settings: SamplingSettings

    def texts(self) -> list[str]:
        return [s.text for group in self.samples for s in group]

    def pairs(self) -> list[tuple[str, str]]:
        """(prompt, answer) for every answer."""
        return [(p, s.text) for p, group in zip(self.prompts, self.samples) for s in group]

    def to_dict(self) -> dict[str, Any]:
        return {"prompts": list(self.prompts), "settings": asdict(self.settings),
                "samples": [[[s.text, s.n_tokens] for s in group] for group in self.samples]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Generations":
        return cls(tuple(data["prompts"]), tuple(tuple(Sample(t, int(n)) for t, n in g) for g in data["samples"]),
                   SamplingSettings(**data["settings"]))


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of every parameter's name, dtype, shape and bytes: changes whenever any weight does."""
    digest = hashlib.sha256()
    for name, param in sorted(state_tensors(model).items()):  # offloaded weights from their CPU copies
        tensor = param.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class GenerationCache:
    """Generations on disk, one JSON file per key of (weights, tokenizer, prompts, settings)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir("generations")
        self.root.mkdir(parents=True, exist_ok=True)
        self._fingerprints: dict[int, tuple[int, str]] = {}

    def key(self, lm: HasModel, prompts: Sequence[str], settings: SamplingSettings) -> str:
        tok = lm.tokenizer
        vocab = sha256_text(json.dumps(sorted(tok.get_vocab().items())) if hasattr(tok, "get_vocab") else repr(tok))
        return sha256_text(weights_fingerprint(lm.model), vocab, json.dumps(list(prompts)),
                           json.dumps(asdict(settings), sort_keys=True))[:32]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> Generations | None:
        """The cached generations of ``key``; ``None`` when absent or damaged (a damaged entry is dropped)."""
        path = self.path(key)
        value = read_checked_json(path, "generations", GENERATIONS_SCHEMA)
        if value is None:
            return None
        try:
            return Generations.from_dict(value)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            reject_entry(path, f"not generations ({type(exc).__name__}: {exc})")
            return None

    def put(self, key: str, generations: Generations) -> None:
        write_checked_json(self.path(key), generations.to_dict(), "generations", GENERATIONS_SCHEMA)

def generate(lm: HasModel, prompts: Sequence[str], settings: SamplingSettings = GREEDY, *,
             cache: GenerationCache | None = None, batch_size: int | None = None) -> Generations:
    """``settings.k`` answers to each prompt (cached when ``cache`` is given); rows per batch: ``batch_size``, or
    16 on the CPU and 64 on a GPU (:func:`stylekg.lm.generation.default_batch_size`)."""
    prompts = tuple(prompts)
    if not prompts:
        raise EvaluationError("the prompt set is empty", hint="give at least one prompt (see stylekg/data/prompts/)")
    if cache is not None and has_forward_hooks(lm.model):  # a live steering hook: the weights do not say it all
        cache = None
    key = cache.key(lm, prompts, settings) if cache is not None else ""
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    samples = sample(lm, list(prompts), k=settings.k, temperature=settings.temperature, top_p=settings.top_p,  # type: ignore[arg-type]
                     max_new_tokens=settings.max_new_tokens, seed=settings.seed, chat=settings.chat,
                     system=settings.system, batch_size=batch_size, progress=True)
    out = Generations(prompts, tuple(tuple(group) for group in samples), settings)
    if cache is not None:
        cache.put(key, out)
    return out


# ---- marker rate ------------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def inflections(phrase: str) -> tuple[str, ...]:
    """The phrase and its inflected forms (lemminflect): a verb first word ("delve into" → "delves into",
    "delved into", "delving into") and a noun last word ("intricate dance" → "intricate dances")."""
    from lemminflect import getAllInflections, getAllLemmas

    words = phrase.split()
    if not words:
        return ()
    out = [phrase]

    def forms(word: str, upos: str) -> list[str]:
        core = word.strip(".,!?;:'\"").lower()
        if not core.isalpha():
            return []
        found: list[str] = []
        for lemma in getAllLemmas(core, upos=upos).get(upos, ()):
            for variants in getAllInflections(lemma, upos=upos).values():
                found += [v for v in variants if v != core]
        return list(dict.fromkeys(found))

    for form in forms(words[0], "VERB"):
        out.append(" ".join([form, *words[1:]]))
    if len(words) > 1 or not out[1:]:
        for form in forms(words[-1], "NOUN"):
            out.append(" ".join([*words[:-1], form]))
    return tuple(dict.fromkeys(out))


def marker_variants(markers: Sequence[Marker]) -> dict[str, tuple[str, ...]]:
    """Each marker's phrase → the strings that count as it: its inflections and its graph variants."""
    out: dict[str, tuple[str, ...]] = {}
    for m in markers:
        if m.is_neutral:
            continue
        out[m.phrase] = tuple(dict.fromkeys((*inflections(m.phrase), *m.variants)))
    return out


def count_markers(text: str, variants: Mapping[str, Sequence[str]]) -> Counter[str]:
    """Occurrences of each marker in ``text`` (non-overlapping spans; a span counts once, for the longest match)."""
    spans: list[tuple[int, int, str]] = []
    for marker, forms in variants.items():
        for form in forms:
            spans += [(m.start(), m.end(), marker) for m in marker_pattern(form).finditer(_normalise(text))]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    counts: Counter[str] = Counter()
    end = -1
    for start, stop, marker in spans:
        if start >= end:
            counts[marker] += 1
            end = stop
    return counts


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')


def bootstrap_ratio(numerators: Sequence[float], denominators: Sequence[float], *, confidence: float = 0.95,
                    n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``sum(num) / sum(den)``, resampling whole prompts (scipy.stats.bootstrap)."""
    from scipy.stats import bootstrap

    num, den = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if len(num) != len(den) or not len(num):
        raise EvaluationError("a bootstrap interval needs as many numerators as denominators, at least one")
    if len(num) == 1 or np.all(num / np.maximum(den, 1e-12) == num[0] / max(den[0], 1e-12)):
        value = float(num.sum() / den.sum()) if den.sum() else 0.0
        return value, value  # no spread between prompts: the interval is the point

    def ratio(n: np.ndarray, d: np.ndarray, axis: int = -1) -> np.ndarray:
        total = d.sum(axis=axis)
        return np.where(total > 0, n.sum(axis=axis) / np.where(total > 0, total, 1.0), 0.0)

    res = bootstrap((num, den), ratio, paired=True, vectorized=True, confidence_level=confidence,
                    n_resamples=n_resamples, method="percentile", random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class RateEstimate:
    """Markers per 1,000 generated tokens with a bootstrap interval over prompts."""

    per_1k: float
    low: float
    high: float
    hits: int
    tokens: int
    n_prompts: int
    per_marker: dict[str, int] = field(default_factory=dict)
    prompts_with_marker: int = 0

    def overlaps(self, other: "RateEstimate") -> bool:
        return self.low <= other.high and other.low <= self.high


def marker_rate(generations: Generations, variants: Mapping[str, Sequence[str]], *, confidence: float = 0.95,
                n_resamples: int = 2000, seed: int = 0) -> RateEstimate:
    """The markers' rate in ``generations``: hits and tokens summed per prompt, resampled over prompts."""
    if not variants:
        raise MaterialError("the style has no markers to count", hint="add markers to its traits (stylekg kg mine)")
    hits, tokens, per_marker, with_marker = [], [], Counter(), 0
    for group in generations.samples:
        counts: Counter[str] = Counter()
        for s in group:
            counts += count_markers(s.text, variants)
        per_marker += counts
        hits.append(sum(counts.values()))
        tokens.append(sum(s.n_tokens for s in group))
        with_marker += bool(counts)
    total = sum(tokens)
    low, high = bootstrap_ratio(hits, tokens, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return RateEstimate(1000.0 * sum(hits) / total if total else 0.0, 1000.0 * low, 1000.0 * high, int(sum(hits)),
                        int(total), len(hits), dict(per_marker.most_common()), with_marker)


# ---- classifier -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassifierFit:
    """A style-vs-neutral classifier and its accuracy on examples it was not fitted on."""

    classifier: StyleClassifier
    heldout_accuracy: float
    n_style: int
    n_neutral: int


def fit_classifier(material: StyleMaterial, *, seed: int = 0, heldout: float = 0.3) -> ClassifierFit:
    """Fit on the style's example texts (positive) against its neutral texts; accuracy on a stratified hold-out."""
    from sklearn.model_selection import train_test_split

    style = list(dict.fromkeys((*material.examples, *material.style_texts)))
    neutral = list(dict.fromkeys(material.neutral_texts))
    if min(len(style), len(neutral)) < 4:
        raise ClassifierError(
            f"style {material.style!r} has {len(style)} example and {len(neutral)} neutral texts",
            hint="a classifier needs at least 4 of each: add example sentences to its markers or neutral forms")
    texts, labels = style + neutral, [material.style] * len(style) + [NEUTRAL_LABEL] * len(neutral)
    train_x, test_x, train_y, test_y = train_test_split(texts, labels, test_size=heldout, stratify=labels,
                                                        random_state=seed)
    probe = StyleClassifier(seed=seed).fit(train_x, train_y)
    accuracy = float(np.mean([p == y for p, y in zip(probe.predict(test_x), test_y)]))
    return ClassifierFit(StyleClassifier(seed=seed).fit(texts, labels), accuracy, len(style), len(neutral))


# ---- fluency ----------------------------------------------------------------------------------------------
def perplexity(reference: HasModel, generations: Generations, *, batch_size: int = 16) -> float:
    """exp of the mean per-token NLL of the answers given their prompts, under ``reference`` (the unedited model)."""
    tok = reference.tokenizer
    use_chat = generations.settings.chat and bool(getattr(tok, "chat_template", None))
    system = generations.settings.system
    items = [(chat_prompt(tok, p, system) if use_chat else (f"{system}\n\n{p}" if system else p), text)
             for p, text in generations.pairs() if text.strip()]
    if not items:
        raise EvaluationError("no generated text to score for fluency")
    scores = score_continuations(reference, items, batch_size=batch_size, add_special_tokens=not use_chat)
    total = sum(-sum(s.token_logprobs) for s in scores)
    count = sum(len(s.token_logprobs) for s in scores)
    return float(math.exp(total / count))


def _ngrams(texts: Sequence[str], n: int) -> list[list[str]]:
    """Word n-grams of each text (scikit-learn's word analyzer: lower-cased, punctuation dropped)."""
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer = CountVectorizer(ngram_range=(n, n), token_pattern=r"(?u)\b\w[\w']*\b").build_analyzer()
    return [analyzer(t) for t in texts]


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct-n (Li et al. 2016): distinct word n-grams over all n-grams of all texts."""
    grams = [g for row in _ngrams(texts, n) for g in row]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(texts: Sequence[str], n: int = 4, times: int = 3) -> float:
    """The share of texts in which some word n-gram occurs ``times`` times or more."""
    if not texts:
        return 0.0
    rows = _ngrams(texts, n)
    return float(np.mean([bool(row) and Counter(row).most_common(1)[0][1] >= times for row in rows]))


# ---- capability -------------------------------------------------------------------------------------------
def load_facts(path: Path | None = None) -> list[tuple[str, str]]:
    """(prompt, answer) pairs of simple facts (``stylekg/data/facts/simple_facts.json`` by default)."""
    path = path or Path(__file__).resolve().parents[1] / "data" / "facts" / "simple_facts.json"
    data = json.loads(Path(path).read_text("utf-8"))
    return [(str(f["prompt"]), " " + str(f["answer"]).strip()) for f in data["facts"]]


def facts_top1(lm: HasModel, facts: Sequence[tuple[str, str]]) -> list[bool]:
    """Whether greedy decoding writes each answer after its prompt (every answer token the argmax)."""
    return [s.top1 for s in score_continuations(lm, list(facts))] if facts else []


# ---- the meter --------------------------------------------------------------------------------------------
@dataclass
class StyleInGeneration:
    """What a reader sees of a style in a model's answers to a prompt set."""

    style: str
    split: str
    settings: dict[str, Any]
    marker_rate: RateEstimate
    perplexity: float | None = None
    distinct_2: float = 0.0
    repetition: float = 0.0
    style_probability: float | None = None
    classifier_accuracy: float | None = None
    judge: dict[str, float] | None = None
    facts_kept: float | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """The flat numbers, under the documented metric names (docs/evaluation.md)."""
        out = {"gen_marker_rate": self.marker_rate.per_1k, "gen_marker_rate_low": self.marker_rate.low,
               "gen_marker_rate_high": self.marker_rate.high, "gen_distinct_2": self.distinct_2,
               "gen_repetition": self.repetition}
        optional = {"gen_fluency_ppl": self.perplexity, "gen_style_probability": self.style_probability,
                    "gen_classifier_accuracy": self.classifier_accuracy, "gen_facts_kept": self.facts_kept}
        out.update({k: float(v) for k, v in optional.items() if v is not None})
        out.update({f"gen_{k.removeprefix('judge_')}_judge": v for k, v in (self.judge or {}).items()
                    if k != "judged"})
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    lm: HasModel,
    material: StyleMaterial,
    prompts: Sequence[str],
    settings: SamplingSettings = GREEDY,
    *,
    split: str = "heldout",
    reference: HasModel | None = None,
    classifier: ClassifierFit | None = None,
    judge: GenerationJudge | None = None,
    facts: Sequence[tuple[str, str]] = (),
    cache: GenerationCache | None = None,
    generations: Generations | None = None,
    n_examples: int = 3,
    seed: int = 0,
) -> StyleInGeneration:
    """Generate (or take ``generations``) and score the style in them; ``reference`` scores fluency perplexity."""
    variants = marker_variants(material.require_markers())
    gens = generations if generations is not None else generate(lm, prompts, settings, cache=cache)
    texts = gens.texts()
    report = StyleInGeneration(material.style, split, asdict(gens.settings), marker_rate(gens, variants, seed=seed),
                               distinct_2=distinct_n(texts, 2), repetition=repetition_rate(texts),
                               examples=[(p, t) for p, t in gens.pairs()[:n_examples]])
    if reference is not None:
        report.perplexity = perplexity(reference, gens)
    if classifier is not None:
        report.style_probability = classifier.classifier.strength(texts, material.style)
        report.classifier_accuracy = classifier.heldout_accuracy
    if judge is not None:
        report.judge = judge.score(texts, material)
    if facts:
        report.facts_kept = float(np.mean(facts_top1(lm, facts)))
    return report

