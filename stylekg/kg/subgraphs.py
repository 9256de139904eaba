"""Pieces of a style graph: a style with everything needed to read it alone, and the subgraph of given nodes."""

from __future__ import annotations

from .graph import StyleGraph
from .inheritance import hierarchy
from .material import style_markers
from .schema import EdgeType


def neighbourhood(graph: StyleGraph, node_id: str) -> set[str]:
    """A style with everything needed to read it alone: ancestors, their traits, markers and neutral
    forms (from :func:`stylekg.kg.material.style_markers`), aliases and fact objects."""
    h = hierarchy(graph)
    keep = {node_id} | set(h.ancestors(node_id))
    for carrier in list(keep):
        keep |= {e.source for e in graph.in_edges(carrier, EdgeType.ALIAS_OF)}
        keep |= {e.target for e in graph.out_edges(carrier, EdgeType.FACT)}
    for trait in h.effective_traits(node_id):
        keep.add(trait.id)
    for marker in style_markers(graph, node_id):
        keep |= {i for i in (marker.marker_id, marker.neutral_id) if i}
    return keep


def subgraph(graph: StyleGraph, node_ids: set[str], name: str | None = None) -> StyleGraph:
    """A new graph holding ``node_ids`` and every edge between them."""
    out = StyleGraph(name or graph.name, graph.description, dict(graph.properties))
    out.add_all(
        (graph.node(i) for i in graph.nx.nodes if i in node_ids),
        (e for e in graph.edges() if e.source in node_ids and e.target in node_ids),
    )
    return out
