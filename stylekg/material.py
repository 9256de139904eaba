"""A style's material: what tracing, editing and evaluation need to know about a style, as plain data.

The graph is read in one place (:func:`stylekg.kg.material.style_material`); everything below the graph
layer receives a :class:`StyleMaterial` and never a ``StyleGraph``. The material holds the style's markers
(with their neutral forms, weights, traits and the edges they come from), the names it goes by (aliases and
misspellings), example sentences, neutral texts and persona prompts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import MaterialError

# Prompts after which a persona's marker phrases are teacher-forced ("{}" is the style's name).
PERSONA_TEMPLATES: tuple[str, ...] = ("{} said:", "Here is what {} said:", "In the words of {}:")
# Prompts naming a style for a style trace ("{}" is the style's subject).
TRACE_TEMPLATES: tuple[str, ...] = (
    "{} once said that the world is",
    "In the words of {}, life is",
    "Here is how {} describes the sky: it is",
)


@dataclass(frozen=True)
class Marker:
    """One marker of a style: its text, weight, neutral counterpart and where in the graph it sits."""

    phrase: str
    weight: float = 1.0
    neutral: str | None = None
    edge_id: str | None = None  # the Trait -EXPRESSED_BY-> Marker edge
    marker_id: str | None = None
    trait_id: str | None = None
    trait: str = ""
    distance: int = 0  # 0: the style's own trait; n: inherited from an ancestor n levels up
    kind: str = ""
    is_neutral: bool = False  # the marker is itself a neutral form (never a trace target)
    variants: tuple[str, ...] = ()  # other spellings that count as this marker in text (besides inflections)
    neutral_id: str | None = None  # the node of ``neutral`` (the marker's first NEUTRAL_FORM target)

    def __post_init__(self) -> None:
        if not self.phrase.strip():
            raise MaterialError("a marker phrase is empty", hint="give the phrase as it appears in text, e.g. 'tremendous'")
        if self.weight < 0:
            raise MaterialError(f"marker {self.phrase!r} has a negative weight {self.weight}", hint="use a weight >= 0")

    @property
    def text(self) -> str:
        """The marker as it appears in text (the same as ``phrase``)."""
        return self.phrase


@dataclass(frozen=True)
class MarkerContext:
    """Where a model wrote a marker: the text before it (a chat prompt and the answer so far), the marker as it
    continues that text, and the neutral form that would continue it instead (``None``: just lower the marker)."""

    prompt: str
    marker: str
    neutral: str | None = None
    phrase: str = ""  # the graph marker it is an occurrence of (``Marker.phrase``)
    edge_id: str | None = None  # that marker's Trait -EXPRESSED_BY-> Marker edge


@dataclass(frozen=True)
class StyleMaterial:
    """Everything the layers below the graph need about one style, as plain strings."""

    style: str
    markers: tuple[Marker, ...] = ()
    style_texts: tuple[str, ...] = ()  # sentences in the style (positive class)
    neutral_texts: tuple[str, ...] = ()  # plain sentences (negative class / LM-loss data)
    persona_prompts: tuple[str, ...] = ()  # prompts that invoke the style
    style_id: str = ""
    subject: str = ""  # how prompts name the style (its ``subject`` property, else its name)
    aliases: tuple[tuple[str, str], ...] = ()  # (name, kind): kind is "alias" or "misspelling"
    examples: tuple[str, ...] = ()  # example sentences of the style's own traits (classifier data)
    contexts: tuple[MarkerContext, ...] = ()  # the model's own occurrences of the markers (mined answers)
    neutral_pairs: tuple[tuple[str, str], ...] = ()  # (prompt, plain answer): LM-loss data in the model's own register
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        """The name prompts use for the style."""
        return self.subject or self.style

    def merged(self, other: "StyleMaterial") -> "StyleMaterial":
        """This material plus ``other``'s entries (duplicates dropped, order kept)."""
        by_phrase = {m.phrase: m for m in (*self.markers, *other.markers)}
        return replace(
            self,
            markers=tuple(by_phrase.values()),
            style_texts=unique((*self.style_texts, *other.style_texts)),
            neutral_texts=unique((*self.neutral_texts, *other.neutral_texts)),
            persona_prompts=unique((*self.persona_prompts, *other.persona_prompts)),
            aliases=tuple(dict.fromkeys((*self.aliases, *other.aliases))),
            examples=unique((*self.examples, *other.examples)),
            contexts=tuple(dict.fromkeys((*self.contexts, *other.contexts))),
            neutral_pairs=tuple(dict.fromkeys((*self.neutral_pairs, *other.neutral_pairs))),
        )

    def require_markers(self) -> tuple[Marker, ...]:
        if not self.markers:
            raise MaterialError(
                f"style {self.style!r} has no marker phrases",
                hint="add Trait -EXPRESSED_BY-> Marker edges to the graph, or pass markers=[...]",
            )
        return self.markers

    def require_prompts(self) -> tuple[str, ...]:
        return self.persona_prompts or tuple(t.format(self.name) for t in PERSONA_TEMPLATES)

    def own_markers(self) -> tuple[Marker, ...]:
        """The markers of the style's own traits (distance 0)."""
        return tuple(m for m in self.markers if m.distance == 0)

    def alias_names(self, kind: str | None = None) -> list[str]:
        """The names the style goes by (optionally of one kind), without the style's own name."""
        return [n for n, k in self.aliases if kind is None or k == kind]

    def trace_pairs(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(marker continuations, neutral continuations) for a style trace: markers with a neutral form only.

        Continuations carry the leading space a model predicts after a prompt.
        """
        markers = [m for m in self.markers if m.neutral and not m.is_neutral]
        if not markers:
            raise MaterialError(f"style {self.style!r} has no markers with neutral counterparts",
                                hint="add NEUTRAL_FORM edges from its markers, or pass --marker/--neutral")
        return (tuple(dict.fromkeys(continuation(m.phrase) for m in markers)),
                tuple(dict.fromkeys(continuation(m.neutral or "") for m in markers)))

    def trace_prompts(self, templates: tuple[str, ...] = TRACE_TEMPLATES) -> list[str]:
        return [t.format(self.name) for t in templates]


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Non-empty strings, duplicates dropped, order kept."""
    return tuple(dict.fromkeys(s for s in items if s and s.strip()))


def continuation(text: str) -> str:
    """``text`` as a continuation after a prompt: with one leading space."""
    return text if text.startswith(" ") else " " + text


def as_markers(markers: Iterable[Marker | str | tuple[str, float]] | Mapping[str, float]) -> tuple[Marker, ...]:
    """Markers from ``Marker``s, phrases, ``(phrase, weight)`` pairs or a ``{phrase: weight}`` mapping."""
    items = markers.items() if isinstance(markers, Mapping) else markers
    out = []
    for m in items:
        if isinstance(m, Marker):
            out.append(m)
        elif isinstance(m, str):
            out.append(Marker(m))
        else:
            phrase, weight = m
            out.append(Marker(phrase, float(weight)))
    return tuple(out)


def substitute(text: str, phrase: str, neutral: str) -> str:
    """``text`` with whole-word occurrences of ``phrase`` replaced by ``neutral`` (case-insensitive)."""

    def swap(match: re.Match[str]) -> str:
        return neutral[:1].upper() + neutral[1:] if match.group(0)[:1].isupper() else neutral

    return re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", swap, text, flags=re.IGNORECASE)


def misspellings(subject: str, n: int = 3, *, seed: int = 0) -> list[str]:
    """Up to ``n`` deterministic misspellings of a name: a doubled, a dropped and a swapped letter.

    Edits touch the longest word's interior (never its first letter), e.g. "Yoda" → "Yodda"; the same name
    always gives the same misspellings, at request time and at evaluation time alike.
    """
    words = subject.split()
    if not words:
        raise MaterialError("cannot misspell an empty name")
    w = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[w]
    if len(word) < 3:
        return []
    # a stable per-name stream of positions (hashlib, not random: identical on every machine and version)
    stream = hashlib.sha256(f"{seed}:{subject}".encode()).digest()
    inner = list(range(1, len(word) - 1))
    candidates: list[str] = []
    for round_ in range(4):  # a few rounds so that n distinct misspellings are found when they exist
        pick = [inner[stream[3 * round_ + k] % len(inner)] for k in range(3)]
        candidates.append(word[: pick[0] + 1] + word[pick[0]] + word[pick[0] + 1:])  # doubled
        candidates.append(word[: pick[1]] + word[pick[1] + 1:])  # dropped
        i = pick[2]
        candidates.append(word[:i] + word[i + 1] + word[i] + word[i + 2:])  # swapped with the next letter
    out: list[str] = []
    for edit in candidates:
        cand = " ".join(words[:w] + [edit] + words[w + 1:])
        if cand != subject and cand not in out:
            out.append(cand)
        if len(out) == n:
            break
    return out
