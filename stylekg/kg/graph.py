"""The in-memory style graph: a networkx MultiDiGraph behind a small typed API.

Every mutation is validated first and applied only if valid, so a rejected change leaves the
graph exactly as it was. ``SUBCLASS_OF`` must stay acyclic (a DAG: many parents allowed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..errors import GraphError
from .schema import Edge, EdgeType, Node, NodeType

# which node types each edge type may connect: (source types, target types)
EDGE_RULES: dict[EdgeType, tuple[frozenset[NodeType], frozenset[NodeType]]] = {
    EdgeType.SUBCLASS_OF: (
        frozenset({NodeType.STYLE, NodeType.ABSTRACT_STYLE, NodeType.NEUTRAL}),
        frozenset({NodeType.ABSTRACT_STYLE}),
    ),
    EdgeType.HAS_TRAIT: (
        frozenset({NodeType.STYLE, NodeType.ABSTRACT_STYLE, NodeType.NEUTRAL}),
        frozenset({NodeType.TRAIT}),
    ),
    EdgeType.EXPRESSED_BY: (frozenset({NodeType.TRAIT}), frozenset({NodeType.MARKER})),
    EdgeType.ALIAS_OF: (
        frozenset({NodeType.ALIAS}),
        frozenset({NodeType.STYLE, NodeType.ABSTRACT_STYLE, NodeType.NEUTRAL}),
    ),
    EdgeType.NEUTRAL_FORM: (frozenset({NodeType.MARKER}), frozenset({NodeType.MARKER})),
    EdgeType.FACT: (
        frozenset({NodeType.STYLE, NodeType.ENTITY, NodeType.ABSTRACT_STYLE}),
        frozenset(NodeType),
    ),
}


@dataclass
class StyleGraph:
    """A named, typed style graph. Nodes and edges are :mod:`stylekg.kg.schema` dataclasses."""

    name: str
    description: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    _g: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph, repr=False)
    _version: int = field(default=0, repr=False, compare=False)  # bumped on every mutation (memo key)

    # ---- reading -------------------------------------------------------------------------
    def __contains__(self, node_id: str) -> bool:
        return node_id in self._g

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def node(self, node_id: str) -> Node:
        try:
            return self._g.nodes[node_id]["node"]
        except KeyError:
            raise GraphError(f"graph {self.name!r} has no node {node_id!r}") from None

    def nodes(self, node_type: NodeType | None = None) -> Iterator[Node]:
        for _, data in self._g.nodes(data=True):
            node: Node = data["node"]
            if node_type is None or node.type is node_type:
                yield node

    def edges(self, edge_type: EdgeType | None = None) -> Iterator[Edge]:
        for _, _, data in self._g.edges(data=True):
            edge: Edge = data["edge"]
            if edge_type is None or edge.type is edge_type:
                yield edge

    def edge(self, edge_id: str) -> Edge:
        ends = _ends_of(edge_id)  # fast path: ids made by schema.edge_id encode their ends
        if ends and self._g.has_edge(ends[0], ends[1], key=edge_id):
            return self._g.edges[ends[0], ends[1], edge_id]["edge"]
        for edge in self.edges():
            if edge.id == edge_id:
                return edge
        raise GraphError(f"graph {self.name!r} has no edge {edge_id!r}")

    def out_edges(self, node_id: str, edge_type: EdgeType | None = None) -> list[Edge]:
        return [
            d["edge"]
            for _, _, d in self._g.out_edges(node_id, data=True)
            if edge_type is None or d["edge"].type is edge_type
        ]

    def in_edges(self, node_id: str, edge_type: EdgeType | None = None) -> list[Edge]:
        return [
            d["edge"]
            for _, _, d in self._g.in_edges(node_id, data=True)
            if edge_type is None or d["edge"].type is edge_type
        ]

    def find(self, name_or_id: str, node_type: NodeType | None = None) -> Node:
        """A node by id, or by name (case-insensitive); raises naming close candidates."""
        if name_or_id in self._g:
            return self.node(name_or_id)
        wanted = name_or_id.strip().lower()
        hits = [n for n in self.nodes(node_type) if n.name.lower() == wanted]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise GraphError(f"{name_or_id!r} names several nodes: {', '.join(h.id for h in hits)}", hint="use an id")
        raise GraphError(f"graph {self.name!r} has no node named {name_or_id!r}")

    @property
    def nx(self) -> nx.MultiDiGraph:
        """The underlying networkx graph (read it; mutate through this class)."""
        return self._g

    # ---- writing -------------------------------------------------------------------------
    def add_node(self, node: Node, *, replace: bool = False) -> Node:
        if not isinstance(node, Node):
            raise GraphError(f"expected a Node, got {type(node).__name__}")
        if node.id in self._g and not replace:
            existing = self.node(node.id)
            if existing.type is not node.type:
                raise GraphError(f"node {node.id!r} already exists with type {existing.type.value}")
            return existing
        self._g.add_node(node.id, node=node)
        self._version += 1
        return node

    def add_edge(self, edge: Edge) -> Edge:
        self._validate_edge(edge)
        for existing in self.out_edges(edge.source, edge.type):
            if existing.id == edge.id:
                return existing
        self._g.add_edge(edge.source, edge.target, key=edge.id, edge=edge)
        self._version += 1
        return edge

    def remove_node(self, node_id: str) -> None:
        self.node(node_id)
        self._g.remove_node(node_id)
        self._version += 1

    def add_all(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        """Add many nodes and edges atomically: on any error the graph is left unchanged."""
        backup = self._g.copy()
        try:
            for node in nodes:
                self.add_node(node)
            for edge in edges:
                self.add_edge(edge)
        except Exception:
            self._g = backup
            self._version += 1
            raise

    # ---- extensions (additive) -----------------------------------------------------------
    @property
    def version(self) -> int:
        """A counter bumped on every mutation: a key for memoised queries (see ``inheritance``)."""
        return self._version

    def number_of_edges(self) -> int:
        return self._g.number_of_edges()

    def remove_edge(self, edge_id: str) -> None:
        edge = self.edge(edge_id)
        self._g.remove_edge(edge.source, edge.target, key=edge.id)
        self._version += 1

    def copy(self, name: str | None = None) -> "StyleGraph":
        """An independent copy (nodes and edges are shared immutable-by-convention dataclasses)."""
        return StyleGraph(name or self.name, self.description, dict(self.properties), self._g.copy())

    def merge(self, other: "StyleGraph") -> tuple[list[str], list[str]]:
        """Add ``other``'s nodes and edges atomically; returns the ids that were new here."""
        new_nodes = [n.id for n in other.nodes() if n.id not in self._g]
        known = {e.id for e in self.edges()}
        new_edges = [e.id for e in other.edges() if e.id not in known]
        self.add_all(other.nodes(), other.edges())
        return new_nodes, new_edges

    def aliases_of(self, node_id: str) -> list[str]:
        """Names of the Alias nodes pointing at ``node_id``."""
        return [self.node(e.source).name for e in self.in_edges(node_id, EdgeType.ALIAS_OF)]

    def validate(self) -> None:
        """Check every edge against the rules and the hierarchy for cycles; raise naming the culprit."""
        for edge in self.edges():
            if edge.type is EdgeType.SUBCLASS_OF:
                continue  # checked as a whole below
            self._validate_edge(edge)
        sub = nx.DiGraph((e.source, e.target) for e in self.edges(EdgeType.SUBCLASS_OF))
        try:
            cycle = nx.find_cycle(sub)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
            raise GraphError(f"SUBCLASS_OF cycle: {path}", hint="the style hierarchy must stay a DAG")
        for edge in self.edges(EdgeType.SUBCLASS_OF):
            src_ok, dst_ok = EDGE_RULES[edge.type]
            if self.node(edge.source).type not in src_ok or self.node(edge.target).type not in dst_ok:
                raise GraphError(f"edge {edge.id!r}: SUBCLASS_OF must point to an AbstractStyle")

    def stats(self) -> dict[str, Any]:
        """Counts of nodes and edges by type."""
        nodes: dict[str, int] = {}
        for n in self.nodes():
            nodes[n.type.value] = nodes.get(n.type.value, 0) + 1
        edges: dict[str, int] = {}
        for e in self.edges():
            edges[e.type.value] = edges.get(e.type.value, 0) + 1
        return {"nodes": len(self), "edges": self.number_of_edges(), "node_types": nodes, "edge_types": edges}

    def _validate_edge(self, edge: Edge) -> None:
        if not isinstance(edge, Edge):
            raise GraphError(f"expected an Edge, got {type(edge).__name__}")
        for end in (edge.source, edge.target):
            if end not in self._g:
                raise GraphError(f"edge {edge.id!r} points to missing node {end!r}", hint="add the node first")
        src_ok, dst_ok = EDGE_RULES[edge.type]
        src, dst = self.node(edge.source), self.node(edge.target)
        if src.type not in src_ok or dst.type not in dst_ok:
            raise GraphError(
                f"edge {edge.id!r}: {edge.type.value} cannot join {src.type.value} → {dst.type.value}",
                hint=f"allowed: {sorted(t.value for t in src_ok)} → {sorted(t.value for t in dst_ok)}",
            )
        if edge.type is EdgeType.FACT:
            if "{}" not in edge.template:
                raise GraphError(
                    f"fact edge {edge.id!r} has template {edge.template!r} without '{{}}' for the subject",
                    hint="write e.g. '{} was born in'",
                )
            if not edge.relation:
                raise GraphError(f"fact edge {edge.id!r} has no relation name")
        if edge.type is EdgeType.SUBCLASS_OF:
            if edge.source == edge.target or self._reaches(edge.target, edge.source):
                raise GraphError(
                    f"SUBCLASS_OF {edge.source} → {edge.target} would create a cycle",
                    hint="the style hierarchy must stay a DAG",
                )

    def _reaches(self, start: str, goal: str) -> bool:
        """Whether ``goal`` is an ancestor-or-self of ``start`` along SUBCLASS_OF."""
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current in seen:
                continue
            seen.add(current)
            stack.extend(e.target for e in self.out_edges(current, EdgeType.SUBCLASS_OF))
        return False


def _ends_of(edge_id: str) -> tuple[str, str] | None:
    """(source, target) encoded in an id made by :func:`schema.edge_id`, or None."""
    head, sep, tail = edge_id.partition(":")
    if not sep or "->" not in tail:
        return None
    source, _, target = tail.partition("->")
    return source, target
