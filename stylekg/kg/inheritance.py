"""Inheritance over the ``SUBCLASS_OF`` DAG: ancestors, subclasses, effective traits/markers, common parents.

A :class:`Hierarchy` snapshots the DAG of a :class:`StyleGraph` once (child → parent edges in a plain
``networkx.DiGraph``) and memoises ancestor/descendant sets, so repeated queries over a 10,000-node
graph are linear in the size of the answer. :func:`hierarchy` reuses the snapshot until the graph
changes (keyed by ``StyleGraph.version``).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .graph import StyleGraph
from .schema import EdgeType, NodeType


@dataclass(frozen=True)
class Inherited:
    """A trait or marker reaching a style, with the node it is attached to and the distance up the DAG."""

    id: str
    via: str  # the style/abstract node (or trait, for markers) that carries it
    distance: int  # 0 = the node itself, 1 = a direct parent, ...


class Hierarchy:
    """Memoised queries over one snapshot of a graph's ``SUBCLASS_OF`` DAG."""

    def __init__(self, graph: StyleGraph) -> None:
        self.graph = graph
        self.version = graph.version
        self.up = nx.DiGraph()  # child -> parent
        self.up.add_nodes_from(graph.nx.nodes)
        self.up.add_edges_from((e.source, e.target) for e in graph.edges(EdgeType.SUBCLASS_OF))
        self._anc: dict[str, frozenset[str]] = {}
        self._desc: dict[str, frozenset[str]] = {}
        self._depth: dict[str, dict[str, int]] = {}
        self._markers: dict[str, frozenset[str]] = {}
        self._styles: list | None = None

    def _check(self, node_id: str) -> None:
        if node_id not in self.up:
            self.graph.node(node_id)  # raises GraphError naming the node

    def ancestors(self, node_id: str) -> frozenset[str]:
        """Every strict ancestor along SUBCLASS_OF (reverse-free BFS up the child→parent graph)."""
        hit = self._anc.get(node_id)
        if hit is None:
            self._check(node_id)
            hit = self._anc[node_id] = frozenset(nx.descendants(self.up, node_id))
        return hit

    def subclasses(self, node_id: str) -> frozenset[str]:
        """Every strict subclass at any depth (a reverse traversal of the child→parent graph)."""
        hit = self._desc.get(node_id)
        if hit is None:
            self._check(node_id)
            hit = self._desc[node_id] = frozenset(nx.ancestors(self.up, node_id))
        return hit

    def distances(self, node_id: str) -> dict[str, int]:
        """Shortest SUBCLASS_OF distance from ``node_id`` to itself (0) and each ancestor."""
        hit = self._depth.get(node_id)
        if hit is None:
            self._check(node_id)
            hit = self._depth[node_id] = dict(nx.single_source_shortest_path_length(self.up, node_id))
        return hit

    def lowest_common_parents(self, a: str, b: str) -> list[str]:
        """The minimal common ancestors-or-self of ``a`` and ``b`` (no other common one lies below them)."""
        common = (self.ancestors(a) | {a}) & (self.ancestors(b) | {b})
        covered: set[str] = set()
        for c in common:
            covered |= self.ancestors(c)
        lowest = common - covered
        return sorted(lowest, key=lambda n: (self.distances(a).get(n, 0) + self.distances(b).get(n, 0), n))

    def effective_traits(self, node_id: str) -> list[Inherited]:
        """Traits of the node and of all its ancestors, nearest first (each trait once, at its nearest)."""
        seen: dict[str, Inherited] = {}
        for carrier, dist in sorted(self.distances(node_id).items(), key=lambda kv: (kv[1], kv[0])):
            for edge in self.graph.out_edges(carrier, EdgeType.HAS_TRAIT):
                if edge.target not in seen:
                    seen[edge.target] = Inherited(edge.target, carrier, dist)
        return list(seen.values())

    def effective_markers(self, node_id: str) -> list[Inherited]:
        """Markers expressing the effective traits (``via`` is the trait), nearest first."""
        out: dict[str, Inherited] = {}
        for trait in self.effective_traits(node_id):
            for edge in self.graph.out_edges(trait.id, EdgeType.EXPRESSED_BY):
                if edge.target not in out:
                    out[edge.target] = Inherited(edge.target, trait.id, trait.distance)
        return list(out.values())

    def styles_sorted(self) -> list:
        """Concrete Style nodes sorted by id (memoised)."""
        if self._styles is None:
            self._styles = sorted(self.graph.nodes(NodeType.STYLE), key=lambda n: n.id)
        return self._styles

    def marker_ids(self, node_id: str) -> frozenset[str]:
        """The ids of :meth:`effective_markers` (memoised: for membership tests over many styles)."""
        hit = self._markers.get(node_id)
        if hit is None:
            hit = self._markers[node_id] = frozenset(m.id for m in self.effective_markers(node_id))
        return hit

    def carriers_of_trait(self, trait_id: str) -> set[str]:
        """Every style/abstract node whose effective traits include ``trait_id`` (direct holders + subclasses)."""
        holders = {e.source for e in self.graph.in_edges(trait_id, EdgeType.HAS_TRAIT)}
        out = set(holders)
        for h in holders:
            out |= self.subclasses(h)
        return out


def hierarchy(graph: StyleGraph) -> Hierarchy:
    """The memoised :class:`Hierarchy` of ``graph``, rebuilt only after the graph changed."""
    hit: Hierarchy | None = getattr(graph, "_hierarchy_memo", None)
    if hit is None or hit.version != graph.version:
        hit = Hierarchy(graph)
        graph._hierarchy_memo = hit  # type: ignore[attr-defined]  # per-graph memo, no module state
    return hit


# ---- functional API ------------------------------------------------------------------------
def ancestors(graph: StyleGraph, node: str) -> list[str]:
    """Strict ancestors of a node (name or id), nearest first."""
    h, nid = hierarchy(graph), graph.find(node).id
    dist = h.distances(nid)
    return sorted(h.ancestors(nid), key=lambda n: (dist[n], n))


def subclasses(graph: StyleGraph, node: str, node_type: NodeType | None = None) -> list[str]:
    """Subclasses at any depth of a node (name or id), optionally of one node type."""
    h, nid = hierarchy(graph), graph.find(node).id
    ids = h.subclasses(nid)
    return sorted(i for i in ids if node_type is None or graph.node(i).type is node_type)


def effective_traits(graph: StyleGraph, node: str) -> list[Inherited]:
    return hierarchy(graph).effective_traits(graph.find(node).id)


def effective_markers(graph: StyleGraph, node: str) -> list[Inherited]:
    return hierarchy(graph).effective_markers(graph.find(node).id)


def lowest_common_parents(graph: StyleGraph, a: str, b: str) -> list[str]:
    """The "common building blocks" of two styles: their lowest common abstract parents."""
    return hierarchy(graph).lowest_common_parents(graph.find(a).id, graph.find(b).id)


def resolve_style(graph: StyleGraph, name: str) -> str:
    """The id of a node named ``name`` (id, name, or one of its aliases/misspellings, case-insensitive)."""
    from ..errors import GraphError

    try:
        node = graph.find(name)
        if node.type is NodeType.ALIAS:
            targets = graph.out_edges(node.id, EdgeType.ALIAS_OF)
            return targets[0].target if targets else node.id
        return node.id
    except GraphError as exc:
        if "several" in str(exc):
            for t in (NodeType.STYLE, NodeType.NEUTRAL, NodeType.ABSTRACT_STYLE):
                try:
                    return graph.find(name, t).id
                except GraphError:
                    continue
            raise
        wanted = name.strip().lower()
        for alias in graph.nodes(NodeType.ALIAS):
            if alias.name.lower() == wanted:
                targets = graph.out_edges(alias.id, EdgeType.ALIAS_OF)
                if targets:
                    return targets[0].target
        raise
