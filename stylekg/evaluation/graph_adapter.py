"""Read what evaluation needs from a :class:`stylekg.kg.StyleGraph`: markers, aliases, examples.

A style's markers are reached by ``Style -HAS_TRAIT-> Trait -EXPRESSED_BY-> Marker``, including
traits inherited from every ``SUBCLASS_OF`` ancestor. The kg package's inheritance helpers are
used when present; otherwise the graph is walked here (same order: nearest carrier first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..kg.graph import StyleGraph
from ..kg.schema import EdgeType, NodeType, edge_id


@dataclass(frozen=True)
class MarkerSpec:
    """One marker edge to probe: its text, the trait → marker edge, and the neutral counterpart."""

    text: str
    edge_id: str | None = None
    marker_id: str | None = None
    trait_id: str | None = None
    trait: str = ""
    neutral: str | None = None
    distance: int = 0  # 0: the style's own trait; n: inherited from an ancestor n levels up
    kind: str = ""


def resolve(graph: StyleGraph, style: str) -> str:
    """Node id of a style given by id, name or alias."""
    try:
        from ..kg.inheritance import resolve_style
    except ImportError:  # older kg package: names and ids only
        return graph.find(style).id
    return resolve_style(graph, style)


def _effective_traits(graph: StyleGraph, node_id: str) -> list[tuple[str, int]]:
    """(trait id, distance) of the node's own and inherited traits, nearest first, each once."""
    try:
        from ..kg.inheritance import hierarchy
    except ImportError:
        hierarchy = None  # type: ignore[assignment]
    if hierarchy is not None:
        return [(t.id, t.distance) for t in hierarchy(graph).effective_traits(node_id)]
    dist = {node_id: 0}
    frontier = [node_id]
    while frontier:  # breadth-first up SUBCLASS_OF: the first visit is the shortest distance
        nxt = []
        for n in frontier:
            for e in graph.out_edges(n, EdgeType.SUBCLASS_OF):
                if e.target not in dist:
                    dist[e.target] = dist[n] + 1
                    nxt.append(e.target)
        frontier = nxt
    seen: dict[str, int] = {}
    for carrier, d in sorted(dist.items(), key=lambda kv: (kv[1], kv[0])):
        for e in graph.out_edges(carrier, EdgeType.HAS_TRAIT):
            seen.setdefault(e.target, d)
    return list(seen.items())


def style_markers(graph: StyleGraph, style: str, *, own_only: bool = False) -> list[MarkerSpec]:
    """Every marker edge of a style (own and inherited traits), with neutral counterparts."""
    nid = resolve(graph, style)
    out: list[MarkerSpec] = []
    seen: set[str] = set()
    for trait_id, distance in _effective_traits(graph, nid):
        if own_only and distance > 0:
            continue
        trait = graph.node(trait_id)
        for e in graph.out_edges(trait_id, EdgeType.EXPRESSED_BY):
            if e.target in seen:
                continue
            seen.add(e.target)
            marker = graph.node(e.target)
            neutral = [graph.node(n.target) for n in graph.out_edges(marker.id, EdgeType.NEUTRAL_FORM)]
            out.append(
                MarkerSpec(
                    text=str(marker.properties.get("text") or marker.name),
                    edge_id=e.id or edge_id(EdgeType.EXPRESSED_BY, trait_id, marker.id),
                    marker_id=marker.id,
                    trait_id=trait_id,
                    trait=trait.name,
                    neutral=str(neutral[0].properties.get("text") or neutral[0].name) if neutral else None,
                    distance=distance,
                    kind=str(marker.properties.get("kind", "")),
                )
            )
    return out


def style_subject(graph: StyleGraph, style: str) -> str:
    """The text that names a style in prompts (its ``subject`` property, else its name)."""
    node = graph.node(resolve(graph, style))
    return str(node.properties.get("subject") or node.name)


def style_aliases(graph: StyleGraph, style: str) -> dict[str, str]:
    """``{alias: kind}`` of a style (``alias`` or ``misspelling``)."""
    nid = resolve(graph, style)
    return {
        graph.node(e.source).name: str(graph.node(e.source).properties.get("alias_kind", "alias"))
        for e in graph.in_edges(nid, EdgeType.ALIAS_OF)
    }


def style_examples(graph: StyleGraph, styles: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``{style name: example sentences}`` from the markers of each style's own traits.

    Inherited traits are left out so two styles sharing a parent are not trained on the same
    sentences. ``styles`` defaults to every Style and Neutral node of the graph.
    """
    if styles is None:
        ids = [n.id for n in graph.nodes() if n.type in (NodeType.STYLE, NodeType.NEUTRAL)]
    else:
        ids = [resolve(graph, s) for s in styles]
    out: dict[str, list[str]] = {}
    for nid in ids:
        examples = []
        for e in graph.out_edges(nid, EdgeType.HAS_TRAIT):
            for m in graph.out_edges(e.target, EdgeType.EXPRESSED_BY):
                example = graph.node(m.target).properties.get("example")
                if example:
                    examples.append(str(example))
        if examples:
            out[graph.node(nid).name] = examples
    return out
