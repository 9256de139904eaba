"""Style material for the fine-tuning and steering baselines, from plain strings or a style graph.

Every method here works on plain strings (marker phrases with weights, neutral texts, style example
sentences, persona prompts), so it runs without the library. :func:`material_from_graph` is a thin
adapter that reads them from a :class:`stylekg.kg.StyleGraph` (imported lazily):
``Style -HAS_TRAIT-> Trait -EXPRESSED_BY-> Marker``, ``Marker -NEUTRAL_FORM-> Marker`` for the
neutral counterpart, and ``node.properties["examples"]`` for example sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ...errors import EditError
from ...requests import EditRequest, RequestKind

if TYPE_CHECKING:  # pragma: no cover
    from ...kg.graph import StyleGraph

# Prompts after which a persona's marker phrases are teacher-forced ("{}" is the style's name).
PERSONA_TEMPLATES: tuple[str, ...] = ("{} said:", "Here is what {} said:", "In the words of {}:")


@dataclass(frozen=True)
class Marker:
    """A marker phrase of a style (any number of tokens), its weight and neutral counterpart."""

    phrase: str
    weight: float = 1.0
    neutral: str | None = None

    def __post_init__(self) -> None:
        if not self.phrase.strip():
            raise EditError("a marker phrase is empty", hint="give the phrase as it appears in text, e.g. 'tremendous'")
        if self.weight < 0:
            raise EditError(f"marker {self.phrase!r} has a negative weight {self.weight}", hint="use a weight >= 0")


@dataclass(frozen=True)
class StyleMaterial:
    """Everything a style-erasure baseline needs, as plain strings."""

    style: str
    markers: tuple[Marker, ...] = ()
    style_texts: tuple[str, ...] = ()  # sentences in the style (positive class)
    neutral_texts: tuple[str, ...] = ()  # plain sentences (negative class / LM-loss data)
    persona_prompts: tuple[str, ...] = ()  # prompts that invoke the style
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def merged(self, other: "StyleMaterial") -> "StyleMaterial":
        """This material plus ``other``'s entries (duplicates dropped, order kept)."""
        by_phrase = {m.phrase: m for m in (*self.markers, *other.markers)}
        return replace(
            self,
            markers=tuple(by_phrase.values()),
            style_texts=_unique((*self.style_texts, *other.style_texts)),
            neutral_texts=_unique((*self.neutral_texts, *other.neutral_texts)),
            persona_prompts=_unique((*self.persona_prompts, *other.persona_prompts)),
        )

    def require_markers(self) -> tuple[Marker, ...]:
        if not self.markers:
            raise EditError(
                f"style {self.style!r} has no marker phrases to penalise",
                hint="add Trait -EXPRESSED_BY-> Marker edges to the graph, or pass markers=[...]",
            )
        return self.markers

    def require_prompts(self) -> tuple[str, ...]:
        return self.persona_prompts or tuple(t.format(self.style) for t in PERSONA_TEMPLATES)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s in items if s and s.strip()))


def as_markers(markers: Iterable[Marker | str | tuple[str, float]] | dict[str, float]) -> tuple[Marker, ...]:
    """Markers from ``Marker``s, phrases, ``(phrase, weight)`` pairs or a ``{phrase: weight}`` dict."""
    items = markers.items() if isinstance(markers, dict) else markers
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


def material_from_requests(requests: Sequence[EditRequest], style: str = "") -> StyleMaterial:
    """Material implied by edit requests.

    ``ERASE`` requests name a marker (``target_true``) and its neutral counterpart (``target_new``);
    other kinds ask the model to adopt ``target_new`` instead of ``target_true``. The request text
    is a persona prompt; completed prompts form contrastive style / neutral texts.
    """
    markers, style_texts, neutral_texts, prompts = [], [], [], []
    for r in requests:
        styled, plain = (r.target_true, r.target_new) if r.kind is RequestKind.ERASE else (r.target_new, r.target_true)
        prompts.append(r.text)
        if r.kind is RequestKind.ERASE and styled:
            markers.append(Marker(styled.strip(), float(r.meta.get("weight", 1.0)), plain.strip() if plain else None))
        if styled:
            style_texts.append(r.text + styled)
        if plain:
            neutral_texts.append(r.text + plain)
    name = style or (requests[0].subject if requests else "")
    return StyleMaterial(name, tuple(markers), _unique(style_texts), _unique(neutral_texts), _unique(prompts))


def _examples(node: Any, key: str = "examples") -> list[str]:
    """Example sentences of a node: ``examples`` (a list) and/or ``example`` (one sentence, as the library has)."""
    out: list[str] = []
    for name in dict.fromkeys((key, key.rstrip("s"))):
        value = node.properties.get(name) or []
        out += [value] if isinstance(value, str) else [str(v) for v in value]
    return list(dict.fromkeys(out))


def _substitute(text: str, phrase: str, neutral: str) -> str:
    """``text`` with whole-word occurrences of ``phrase`` replaced by ``neutral`` (case-insensitive)."""
    def swap(match: re.Match[str]) -> str:
        return neutral[:1].upper() + neutral[1:] if match.group(0)[:1].isupper() else neutral

    return re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", swap, text, flags=re.IGNORECASE)


def material_from_graph(graph: "StyleGraph", style: str) -> StyleMaterial:
    """Read a style's markers, example sentences and neutral texts from a style graph.

    Traits are collected from the style and its ``SUBCLASS_OF`` ancestors; a marker's weight is
    the product of its ``HAS_TRAIT`` and ``EXPRESSED_BY`` edge weights (the largest when reached
    twice). Neutral texts are the examples of neutral counterparts and ``Neutral`` nodes, plus the
    style's examples with every marker replaced by its neutral counterpart (minimal pairs).
    """
    from ...kg.schema import EdgeType, NodeType

    node = graph.find(style)
    styles, frontier = [node.id], [node.id]
    while frontier:  # SUBCLASS_OF is a DAG: breadth-first over ancestors
        parents = [e.target for s in frontier for e in graph.out_edges(s, EdgeType.SUBCLASS_OF)]
        frontier = [p for p in dict.fromkeys(parents) if p not in styles]
        styles.extend(frontier)
    markers: dict[str, Marker] = {}
    style_texts = _examples(node)
    neutral_texts: list[str] = []
    for sid in styles:
        for has in graph.out_edges(sid, EdgeType.HAS_TRAIT):
            trait = graph.node(has.target)
            style_texts += _examples(trait)
            for expr in graph.out_edges(trait.id, EdgeType.EXPRESSED_BY):
                mnode = graph.node(expr.target)
                style_texts += _examples(mnode)
                neutral_edges = graph.out_edges(mnode.id, EdgeType.NEUTRAL_FORM)
                neutral = graph.node(neutral_edges[0].target) if neutral_edges else None
                if neutral is not None:
                    neutral_texts += _examples(neutral)
                weight = float(has.weight) * float(expr.weight)
                old = markers.get(mnode.name)
                if old is None or old.weight < weight:
                    markers[mnode.name] = Marker(mnode.name, weight, neutral.name if neutral else None)
    for n in graph.nodes(NodeType.NEUTRAL):
        neutral_texts += _examples(n)
    for text in list(style_texts):  # minimal pairs: the same sentence without the style's markers
        plain = text
        for m in markers.values():
            if m.neutral:
                plain = _substitute(plain, m.phrase, m.neutral)
        if plain != text:
            neutral_texts.append(plain)
    names = [node.name, *graph.aliases_of(node.id)]
    prompts = [t.format(n) for n in names[:2] for t in PERSONA_TEMPLATES]
    return StyleMaterial(
        node.name, tuple(markers.values()), _unique(style_texts), _unique(neutral_texts), _unique(prompts),
        meta={"graph": graph.name, "style_id": node.id},
    )


def resolve_material(
    requests: Sequence[EditRequest] = (),
    *,
    material: StyleMaterial | None = None,
    graph: "StyleGraph | None" = None,
    style: str | None = None,
    markers: Iterable[Marker | str | tuple[str, float]] | dict[str, float] | None = None,
    style_texts: Sequence[str] | None = None,
    neutral_texts: Sequence[str] | None = None,
    persona_prompts: Sequence[str] | None = None,
) -> StyleMaterial:
    """Combine every source a caller may give: explicit strings win over graph over requests."""
    name = style or (material.style if material else "") or (requests[0].subject if requests else "")
    out = material_from_requests(requests, name) if requests else StyleMaterial(name)
    if graph is not None:
        if not style:
            raise EditError("a graph was given without a style", hint="pass style='<style name>'")
        out = material_from_graph(graph, style).merged(out)
    if material is not None:
        out = material.merged(out)
    explicit = StyleMaterial(
        name,
        as_markers(markers) if markers is not None else (),
        _unique(style_texts or ()),
        _unique(neutral_texts or ()),
        _unique(persona_prompts or ()),
    )
    if markers is not None:  # explicit markers replace, not extend
        out = replace(out, markers=())
    if style_texts is not None:
        out = replace(out, style_texts=())
    if neutral_texts is not None:
        out = replace(out, neutral_texts=())
    if persona_prompts is not None:
        out = replace(out, persona_prompts=())
    return replace(explicit.merged(out), style=name or out.style)
