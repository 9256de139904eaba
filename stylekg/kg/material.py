"""A style's material read out of a :class:`StyleGraph`: the one graph adapter of tracing, editing and evaluation.

One walk over the style's effective traits (its own and every ``SUBCLASS_OF`` ancestor's, nearest first, see
:meth:`stylekg.kg.inheritance.Hierarchy.effective_traits`) reaches ``Trait -EXPRESSED_BY-> Marker`` and
``Marker -NEUTRAL_FORM-> Marker`` and fills a :class:`stylekg.material.StyleMaterial`:

* markers: phrase = the marker's ``text`` property or name; weight = ``HAS_TRAIT`` weight × ``EXPRESSED_BY``
  weight (the largest when the marker is reached twice); neutral = the first ``NEUTRAL_FORM`` target's
  text/name; the edge, trait and distance of the nearest path; ``is_neutral`` from the marker's ``neutral``
  property. A marker reached through two traits is one marker (the nearest trait's edge);
* names: ``subject`` (the node's ``subject`` property, else its name; a Neutral node is "a plain writer"),
  aliases as ``(name, alias_kind)``;
* texts: ``examples`` (the ``example`` of the markers of the style's OWN traits: the classifier's training
  data), ``style_texts`` (examples of the style, its traits and markers), ``neutral_texts`` (examples of the
  neutral counterparts and of every Neutral node, plus minimal pairs: the style texts with each marker
  replaced by its neutral form) and ``persona_prompts`` (persona templates filled with the name and first alias).

Everything below the graph layer receives this data, never the graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..material import PERSONA_TEMPLATES, Marker, StyleMaterial, substitute, unique
from .graph import StyleGraph
from .inheritance import Inherited, hierarchy, resolve_style
from .schema import Edge, EdgeType, Node, NodeType

PLAIN_SUBJECT = "a plain writer"  # how prompts name a Neutral node without a ``subject`` property


@dataclass(frozen=True)
class _Step:
    """One ``Trait -EXPRESSED_BY-> Marker`` edge reached by the walk."""

    trait: Inherited
    trait_node: Node
    expressed: Edge
    marker: Node
    neutral: Node | None
    weight: float  # HAS_TRAIT weight (the largest over the carriers reached) × EXPRESSED_BY weight


def _walk(graph: StyleGraph, node_id: str, own_only: bool) -> Iterator[_Step]:
    """Every marker edge of the node's effective traits, nearest trait first (the only graph walk here)."""
    h = hierarchy(graph)
    has_weight: dict[str, float] = {}
    for carrier in h.distances(node_id):
        for e in graph.out_edges(carrier, EdgeType.HAS_TRAIT):
            has_weight[e.target] = max(has_weight.get(e.target, float(e.weight)), float(e.weight))
    for trait in h.effective_traits(node_id):
        if own_only and trait.distance > 0:
            continue
        trait_node = graph.node(trait.id)
        for expressed in graph.out_edges(trait.id, EdgeType.EXPRESSED_BY):
            marker = graph.node(expressed.target)
            forms = graph.out_edges(marker.id, EdgeType.NEUTRAL_FORM)
            neutral = graph.node(forms[0].target) if forms else None
            yield _Step(trait, trait_node, expressed, marker, neutral, has_weight[trait.id] * float(expressed.weight))


def _text(node: Node) -> str:
    return str(node.properties.get("text") or node.name)


def _marker(step: _Step) -> Marker:
    return Marker(
        phrase=_text(step.marker),
        weight=step.weight,
        neutral=_text(step.neutral) if step.neutral is not None else None,
        edge_id=step.expressed.id,
        marker_id=step.marker.id,
        trait_id=step.trait.id,
        trait=step.trait_node.name,
        distance=step.trait.distance,
        kind=str(step.marker.properties.get("kind", "")),
        is_neutral=bool(step.marker.properties.get("neutral")),
        neutral_id=step.neutral.id if step.neutral is not None else None,
        variants=tuple(str(v) for v in step.marker.properties.get("variants") or ()),
    )


def _add(markers: dict[str, Marker], step: _Step) -> None:
    """Keep one marker per marker node: the nearest path's edge, the largest weight."""
    old = markers.get(step.marker.id)
    if old is None:
        markers[step.marker.id] = _marker(step)
    elif old.weight < step.weight:
        markers[step.marker.id] = replace(old, weight=step.weight)


def _examples(node: Node, key: str = "examples") -> list[str]:
    """Example sentences of a node: ``examples`` (a list) and/or ``example`` (one sentence, as the library has)."""
    out: list[str] = []
    for name in dict.fromkeys((key, key.rstrip("s"))):
        value = node.properties.get(name) or []
        out += [value] if isinstance(value, str) else [str(v) for v in value]
    return list(dict.fromkeys(out))


def _own_example(step: _Step) -> str | None:
    example = step.marker.properties.get("example") if step.trait.distance == 0 else None
    return str(example) if example else None


def _subject(node: Node) -> str:
    subject = node.properties.get("subject")
    if subject:
        return str(subject)
    return PLAIN_SUBJECT if node.type is NodeType.NEUTRAL else node.name


def _aliases(graph: StyleGraph, node_id: str) -> tuple[tuple[str, str], ...]:
    kinds: dict[str, str] = {}
    for e in graph.in_edges(node_id, EdgeType.ALIAS_OF):
        alias = graph.node(e.source)
        kinds[alias.name] = str(alias.properties.get("alias_kind", "alias"))
    return tuple(kinds.items())


def style_markers(graph: StyleGraph, style: str, *, own_only: bool = False) -> tuple[Marker, ...]:
    """The markers of :func:`style_material` alone (no texts): for callers that need nothing else."""
    markers: dict[str, Marker] = {}
    for step in _walk(graph, resolve_style(graph, style), own_only):
        _add(markers, step)
    return tuple(markers.values())


def style_material(graph: StyleGraph, style: str, *, own_only: bool = False) -> StyleMaterial:
    """The material of ``style`` (id, name or alias); ``own_only`` leaves inherited traits out (see module doc)."""
    node = graph.node(resolve_style(graph, style))
    markers: dict[str, Marker] = {}
    style_texts = _examples(node)
    neutral_texts: list[str] = []
    examples: list[str] = []
    seen_traits: set[str] = set()
    for step in _walk(graph, node.id, own_only):
        _add(markers, step)
        if step.trait.id not in seen_traits:
            seen_traits.add(step.trait.id)
            style_texts += _examples(step.trait_node)
        style_texts += _examples(step.marker)
        if step.neutral is not None:
            neutral_texts += _examples(step.neutral)
        example = _own_example(step)
        if example:
            examples.append(example)
    for n in graph.nodes(NodeType.NEUTRAL):
        neutral_texts += _examples(n)
    for text in list(style_texts):  # minimal pairs: the same sentence without the style's markers
        plain = text
        for m in markers.values():
            if m.neutral:
                plain = substitute(plain, m.phrase, m.neutral)
        if plain != text:
            neutral_texts.append(plain)
    names = [node.name, *graph.aliases_of(node.id)]
    prompts = [t.format(n) for n in names[:2] for t in PERSONA_TEMPLATES]
    return StyleMaterial(
        style=node.name,
        markers=tuple(markers.values()),
        style_texts=unique(style_texts),
        neutral_texts=unique(neutral_texts),
        persona_prompts=unique(prompts),
        style_id=node.id,
        subject=_subject(node),
        aliases=_aliases(graph, node.id),
        examples=tuple(examples),
        meta={"graph": graph.name, "style_id": node.id},
    )


def style_examples(graph: StyleGraph, styles: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``{style name: example sentences}`` from the markers of each style's own traits (classifier data).

    Inherited traits are left out so two styles sharing a parent are not trained on the same sentences.
    ``styles`` (ids, names or aliases) defaults to every Style and Neutral node of the graph.
    """
    if styles is None:
        ids = [n.id for n in graph.nodes() if n.type in (NodeType.STYLE, NodeType.NEUTRAL)]
    else:
        ids = [resolve_style(graph, s) for s in styles]
    out: dict[str, list[str]] = {}
    for nid in ids:
        examples = [e for e in map(_own_example, _walk(graph, nid, own_only=True)) if e]
        if examples:
            out[graph.node(nid).name] = examples
    return out
