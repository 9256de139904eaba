"""Generalisation probes from a style's material: aliases, misspellings and the Yoda protocol.

The Yoda protocol (issue 6): edit one trait of a style alone (Yoda's inverted syntax) and measure

- whether the change follows the subject's aliases ("the green Jedi master", "Yodda"): the
  log-prob change of the edited trait's markers after each alias, and its ratio to the change
  after the subject itself (1 = follows fully, 0 = not at all);
- whether the other trait (the "wise Jedi" counsel) stays: its markers' change after the subject;
- whether other styles move: each other style's own markers after its own subject.

Log-probabilities are the presence probe's per-token means averaged over its templates, so a
delta of -2 means the edited markers became e^2 ≈ 7 times less likely per token. Misspellings are
:func:`stylekg.material.misspellings`, the ones edit requests carry; styles come as
:class:`stylekg.material.StyleMaterial` (built from a graph by :mod:`stylekg.kg.material`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import EvaluationError
from ..material import StyleMaterial, misspellings
from ..requests import EditRequest
from .presence import PRESENCE_TEMPLATES, continuation_for, fill
from .scoring import ContinuationScore, HasModel, score_continuations

Scorer = Callable[[Sequence[tuple[str, str]]], list[ContinuationScore]]


# ---- aliases and misspellings --------------------------------------------------------------
def alias_prompts(request: EditRequest, aliases: Sequence[str]) -> tuple[str, ...]:
    """The request's prompt filled with each alias instead of the subject."""
    return tuple(request.prompt.format(a) for a in aliases if a.strip() and a != request.subject)


def with_aliases(request: EditRequest, aliases: Sequence[str], *, misspell: int = 0, seed: int = 0) -> EditRequest:
    """A copy of ``request`` whose ``alias_prompts`` cover ``aliases`` (+ ``misspell`` generated misspellings)."""
    names = list(aliases) + misspellings(request.subject, misspell, seed=seed) if misspell else list(aliases)
    merged = tuple(dict.fromkeys(request.alias_prompts + alias_prompts(request, names)))
    return request.with_(alias_prompts=merged)


def material_aliases(request: EditRequest, material: StyleMaterial, **kwargs: Any) -> EditRequest:
    """:func:`with_aliases` with the style's aliases (and recorded misspellings) from its material."""
    return with_aliases(request, material.alias_names(), **kwargs)


# ---- the trait-edit (Yoda) protocol --------------------------------------------------------
@dataclass
class TraitProbe:
    """What to measure around a single-trait edit."""

    subject: str
    aliases: list[str]
    edited_markers: list[str]  # markers of the edited trait
    kept_markers: list[str]  # markers of the sibling trait that should stay
    other_styles: dict[str, list[str]] = field(default_factory=dict)  # other subject → its markers
    templates: list[str] = field(default_factory=lambda: list(PRESENCE_TEMPLATES))

    def items(self) -> list[tuple[str, str, str]]:
        """(who, marker, template) triples to score, deduplicated."""
        out: list[tuple[str, str, str]] = []
        for who in [self.subject, *self.aliases]:
            for m in self.edited_markers:
                out += [(who, m, t) for t in self.templates]
        for m in self.kept_markers:
            out += [(self.subject, m, t) for t in self.templates]
        for who, markers in self.other_styles.items():
            for m in markers:
                out += [(who, m, t) for t in self.templates]
        return list(dict.fromkeys(out))


Snapshot = dict[tuple[str, str], float]  # (who, marker) → mean log-prob over templates


@dataclass
class TraitProbeDeltas:
    """After − before, in nats per token (means over markers)."""

    edited_subject: float
    edited_aliases: dict[str, float]
    alias_follow: dict[str, float | None]  # alias delta / subject delta
    kept_trait: float | None
    other_styles: dict[str, float]
    raw: dict[str, float] = field(default_factory=dict)  # "who || marker" → delta

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_scorer(model_or_fn: HasModel | Scorer, batch_size: int = 32) -> Scorer:
    """A scorer from a model (anything with ``model``/``tokenizer``) or a scoring callable."""
    if hasattr(model_or_fn, "model") and hasattr(model_or_fn, "tokenizer"):
        return lambda items: score_continuations(model_or_fn, items, batch_size=batch_size)  # type: ignore[arg-type]
    if callable(model_or_fn):
        return model_or_fn  # type: ignore[return-value]
    raise EvaluationError(f"cannot score with a {type(model_or_fn).__name__}", hint="pass a LoadedModel or a scorer")


def measure(model_or_fn: HasModel | Scorer, probe: TraitProbe) -> Snapshot:
    """Mean per-token log-prob of every probed (who, marker), averaged over the templates."""
    triples = probe.items()
    scores = as_scorer(model_or_fn)([(fill(t, who), continuation_for(t, m)) for who, m, t in triples])
    acc: dict[tuple[str, str], list[float]] = {}
    for (who, m, _), s in zip(triples, scores):
        acc.setdefault((who, m), []).append(s.mean_logprob)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def deltas(before: Snapshot, after: Snapshot, probe: TraitProbe) -> TraitProbeDeltas:
    """The protocol's numbers from two snapshots of the same probe."""

    def d(who: str, markers: Sequence[str]) -> float | None:
        vals = [after[(who, m)] - before[(who, m)] for m in markers]
        return float(np.mean(vals)) if vals else None

    subject = d(probe.subject, probe.edited_markers)
    if subject is None:
        raise EvaluationError("the trait probe has no edited markers")
    aliases = {a: d(a, probe.edited_markers) or 0.0 for a in probe.aliases}
    follow = {a: (v / subject if abs(subject) > 1e-9 else None) for a, v in aliases.items()}
    others = {who: d(who, ms) for who, ms in probe.other_styles.items() if ms}
    raw = {f"{w} || {m}": after[(w, m)] - before[(w, m)] for (w, m) in before}
    return TraitProbeDeltas(subject, aliases, follow, d(probe.subject, probe.kept_markers), others, raw)  # type: ignore[arg-type]


def compare_models(before: HasModel | Scorer, after: HasModel | Scorer, probe: TraitProbe) -> TraitProbeDeltas:
    """The protocol on two models (or scorers): e.g. the original and an edited copy."""
    return deltas(measure(before, probe), measure(after, probe), probe)


def run_protocol(lm: HasModel, probe: TraitProbe, edit: Callable[[HasModel], Any]) -> tuple[TraitProbeDeltas, Any]:
    """Measure, apply ``edit(lm)`` in place, measure again; returns (deltas, what ``edit`` returned).

    The caller restores the model (``result.restore()``) when it is done with it.
    """
    before = measure(lm, probe)
    result = edit(lm)
    return deltas(before, measure(lm, probe), probe), result


def _trait_markers(material: StyleMaterial, trait: str) -> list[str]:
    """The texts of the material's markers of ``trait`` (its id or name, case-insensitive)."""
    wanted = trait.strip().lower()
    return [m.text for m in material.markers if (m.trait_id or "").lower() == wanted or m.trait.lower() == wanted]


def trait_probe(
    material: StyleMaterial,
    edited_trait: str,
    kept_trait: str | None = None,
    *,
    others: Sequence[StyleMaterial] = (),
    aliases: Sequence[str] | None = None,
    misspell: int = 0,
) -> TraitProbe:
    """A :class:`TraitProbe` from materials: the style's subject and aliases, the two traits' markers (by trait id
    or name), and each other style's own markers after its own subject."""
    edited = _trait_markers(material, edited_trait)
    if not edited:
        raise EvaluationError(f"trait {edited_trait!r} has no markers on style {material.style!r}")
    kept = _trait_markers(material, kept_trait) if kept_trait else []
    subject = material.name
    names = list(aliases) if aliases is not None else material.alias_names()
    if misspell:
        names += [m for m in misspellings(subject, misspell) if m not in names]
    other_markers = {o.name: [m.text for m in o.own_markers()] for o in others}
    return TraitProbe(subject, names, edited, kept, other_markers)


def yoda_probe(yoda: StyleMaterial, others: Sequence[StyleMaterial] = ()) -> TraitProbe:
    """The issue's model case: edit Yoda's inverted syntax alone, keep his Jedi counsel, watch ``others``.

    The caller reads the materials, e.g. ``library_material("Yoda")`` and ``library_material("Donald Trump")``
    (:mod:`stylekg.kg.material`).
    """
    return trait_probe(yoda, "Inverted syntax", "Wise Jedi counsel", others=others)
