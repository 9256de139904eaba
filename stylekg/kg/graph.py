"""The in-memory style graph: a networkx MultiDiGraph behind a small typed API.

Every mutation is validated first and applied only if valid, so a rejected change leaves the
graph exactly as it was. ``SUBCLASS_OF`` must stay acyclic (a DAG: many parents allowed), and a marker has at
most one neutral form (:meth:`StyleGraph.validate`).

An edge may name its ends by id or by name: a name unique among the node types the edge type allows is
resolved to its id (:meth:`StyleGraph.resolve`); an ambiguous or unknown one raises naming the candidate ids.
Merging another graph (:meth:`StyleGraph.merge`, :mod:`stylekg.kg.merge`) resolves entities by type and
normalised name and refuses conflicts, listing them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from ..errors import GraphError
from .merge import MergePlan, apply_merge, norm_name, plan_merge
from .schema import Edge, EdgeType, Node, NodeType, edge_id

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
    _names: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)  # norm_name → ids

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

    def named(self, name: str, node_types: Iterable[NodeType] | None = None) -> list[Node]:
        """Nodes whose :func:`norm_name` equals ``name``'s (optionally of ``node_types``), sorted by id.

        A lookup in a name index (built once, then kept up to date by every mutation), so resolving the ends of
        ``n`` edges given by name costs O(n), not O(n × nodes)."""
        types = frozenset(node_types) if node_types is not None else None
        hits = (self.node(i) for i in self._name_index().get(norm_name(name), ()))
        return sorted((n for n in hits if types is None or n.type in types), key=lambda n: n.id)

    def _name_index(self) -> dict[str, list[str]]:
        if self._names is None:
            names: dict[str, list[str]] = {}
            for node in self.nodes():
                names.setdefault(norm_name(node.name), []).append(node.id)
            self._names = names
        return self._names

    def _index_name(self, node: Node, *, add: bool) -> None:
        """Keep the name index (if built) in step with adding or removing ``node``."""
        if self._names is None:
            return
        ids = self._names.setdefault(norm_name(node.name), [])
        if add:
            ids.append(node.id)
        elif node.id in ids:
            ids.remove(node.id)

    def resolve(self, ref: str, node_types: Iterable[NodeType] | None = None, *, what: str = "node") -> str:
        """The id ``ref`` stands for: an id here, or a name unique among ``node_types``; raises suggesting ids."""
        if ref in self._g:
            return ref
        types = frozenset(node_types) if node_types is not None else None
        hits = self.named(ref, types)
        if len(hits) == 1:
            return hits[0].id
        if hits:
            raise GraphError(f"{what} {ref!r} names several nodes: {', '.join(h.id for h in hits)}",
                             hint=f"use an id, e.g. {hits[0].id!r}")
        raise GraphError(f"{what} {ref!r} is no node id or name in graph {self.name!r}", hint=self.suggest(ref, types))

    def suggest(self, ref: str, node_types: Iterable[NodeType] | None = None) -> str:
        """A hint for an unknown node reference: the closest ids (by id and by name), or how to add the node."""
        types = frozenset(node_types) if node_types is not None else None
        other = [n for n in self.named(ref) if types is not None and n.type not in types]
        if other:
            allowed = ", ".join(sorted(t.value for t in types or ()))
            return f"{ref!r} names {other[0].id}, a {other[0].type.value}; this needs a node of type {allowed}"
        pool = [n for n in self.nodes() if types is None or n.type in types]
        by_name: dict[str, str] = {}
        for n in pool:
            by_name.setdefault(n.name.casefold(), n.id)
        close = difflib.get_close_matches(ref, [n.id for n in pool], n=3, cutoff=0.6)
        close += [by_name[k] for k in difflib.get_close_matches(ref.casefold(), list(by_name), n=3, cutoff=0.6)]
        close = list(dict.fromkeys(close))[:3]
        if close:
            return "did you mean " + " or ".join(repr(c) for c in close) + "?"
        return "add the node first, or name an existing one by its id or name"

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
        if node.id in self._g:  # replace: the old name leaves the index
            self._index_name(self.node(node.id), add=False)
        self._g.add_node(node.id, node=node)
        self._index_name(node, add=True)
        self._version += 1
        return node

    def add_edge(self, edge: Edge, *, check_cycle: bool = True) -> Edge:
        """Add ``edge`` (its ends by id, or by a name unique among the allowed node types); returns it as added.
        ``check_cycle=False`` is for :meth:`add_all`, which checks the whole hierarchy once at the end."""
        edge = self._resolve_ends(edge)
        self._validate_edge(edge, check_cycle=check_cycle)
        for existing in self.out_edges(edge.source, edge.type):
            if existing.id == edge.id:
                return existing
        self._g.add_edge(edge.source, edge.target, key=edge.id, edge=edge)
        self._version += 1
        return edge

    def remove_node(self, node_id: str) -> None:
        self._index_name(self.node(node_id), add=False)
        self._g.remove_node(node_id)
        self._version += 1

    def add_all(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        """Add many nodes and edges atomically: on any error the graph is left unchanged."""
        with self.atomic():
            for node in nodes:
                self.add_node(node)
            for edge in edges:
                self.add_edge(edge, check_cycle=False)  # one linear check below, not a walk per edge (quadratic)
            self._check_acyclic()

    @contextmanager
    def atomic(self) -> Iterator["StyleGraph"]:
        """A block of mutations that all happen or, on any exception, none (the graph is restored exactly)."""
        backup = self._g.copy()
        try:
            yield self
        except BaseException:
            self._g = backup
            self._names = None  # rebuilt from the restored nodes on the next lookup
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

    def merge(self, other: "StyleGraph", *, on_conflict: str = "refuse", dry_run: bool = False) -> "MergePlan":
        """Merge ``other`` into this graph atomically (see :mod:`stylekg.kg.merge`); returns the plan.

        Entities are resolved by type and normalised name; ``on_conflict`` is ``refuse`` (raise listing every
        conflict; the graph is unchanged), ``theirs`` (``other``'s values win) or ``ours`` (this graph's values
        win, conflicting edges of ``other`` are left out). ``dry_run`` plans without changing anything. The plan
        unpacks as ``(added_nodes, added_edges)``.
        """
        plan = plan_merge(self, other, on_conflict=on_conflict)
        if not dry_run:
            apply_merge(self, plan)
        return plan

    def around(self, node_id: str, depth: int = 1) -> set[str]:
        """Ids within ``depth`` hops of ``node_id`` (itself included), along edges of any type and direction."""
        self.node(node_id)
        undirected = self._g.to_undirected(as_view=True)
        return set(nx.single_source_shortest_path_length(undirected, node_id, cutoff=max(0, depth)))

    def aliases_of(self, node_id: str) -> list[str]:
        """Names of the Alias nodes pointing at ``node_id``."""
        return [self.node(e.source).name for e in self.in_edges(node_id, EdgeType.ALIAS_OF)]

    def validate(self) -> None:
        """Check every edge against the rules and the hierarchy for cycles; raise naming the culprit."""
        for edge in self.edges():
            if edge.type is EdgeType.SUBCLASS_OF:
                continue  # checked as a whole below
            self._validate_edge(edge)
        self._check_acyclic()
        for edge in self.edges(EdgeType.SUBCLASS_OF):
            src_ok, dst_ok = EDGE_RULES[edge.type]
            if self.node(edge.source).type not in src_ok or self.node(edge.target).type not in dst_ok:
                raise GraphError(f"edge {edge.id!r}: SUBCLASS_OF must point to an AbstractStyle")
        for marker in self.nodes(NodeType.MARKER):
            forms = self.out_edges(marker.id, EdgeType.NEUTRAL_FORM)
            if len({e.target for e in forms}) > 1:
                names = ", ".join(repr(self.node(e.target).name) for e in forms)
                raise GraphError(f"marker {marker.name!r} ({marker.id}) has {len(forms)} neutral forms: {names}",
                                 hint="keep one NEUTRAL_FORM edge per marker: an erase needs one target")

    def stats(self) -> dict[str, Any]:
        """Counts of nodes and edges by type."""
        nodes: dict[str, int] = {}
        for n in self.nodes():
            nodes[n.type.value] = nodes.get(n.type.value, 0) + 1
        edges: dict[str, int] = {}
        for e in self.edges():
            edges[e.type.value] = edges.get(e.type.value, 0) + 1
        return {"nodes": len(self), "edges": self.number_of_edges(), "node_types": nodes, "edge_types": edges}

    def _resolve_ends(self, edge: Edge) -> Edge:
        """``edge`` with ends given by name replaced by their ids (and its id rebuilt if it was derived from them)."""
        if not isinstance(edge, Edge):
            raise GraphError(f"expected an Edge, got {type(edge).__name__}")
        if edge.source in self._g and edge.target in self._g:
            return edge
        ends = []
        for end, types in zip((edge.source, edge.target), EDGE_RULES[edge.type]):
            if end in self._g:
                ends.append(end)
                continue
            hits = self.named(end, types)
            if len(hits) > 1:
                raise GraphError(f"edge {edge.id!r}: {end!r} names several nodes: {', '.join(h.id for h in hits)}",
                                 hint=f"name the end by its id, e.g. {hits[0].id!r}")
            if not hits:
                raise GraphError(f"edge {edge.id!r} points to missing node {end!r}", hint=self.suggest(end, types))
            ends.append(hits[0].id)
        derived = edge.id == edge_id(edge.type, edge.source, edge.target, edge.relation)
        new_id = edge_id(edge.type, ends[0], ends[1], edge.relation) if derived else edge.id
        return replace(edge, source=ends[0], target=ends[1], id=new_id)

    def _check_acyclic(self) -> None:
        """Raise naming a ``SUBCLASS_OF`` cycle if there is one (:func:`find_cycle`: linear, iterative)."""
        cycle = find_cycle((e.source, e.target) for e in self.edges(EdgeType.SUBCLASS_OF))
        if cycle:
            path = " → ".join(cycle[:12] + ([cycle[0]] if len(cycle) <= 12 else ["…"]))
            raise GraphError(f"SUBCLASS_OF cycle: {path}", hint="the style hierarchy must stay a DAG")

    def _validate_edge(self, edge: Edge, check_cycle: bool = True) -> None:
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
        if edge.type is EdgeType.SUBCLASS_OF and check_cycle:
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


def find_cycle(edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """The nodes of one directed cycle among ``edges`` (in order), or ``None``. One depth-first search with an
    explicit stack and three colours (unseen, on the path, done): every node and edge is visited once, so it is
    linear and never recurses (``networkx.find_cycle`` took 38 s on a 1,000-level chain: it is quadratic there)."""
    succ: dict[str, list[str]] = {}
    for source, target in edges:
        succ.setdefault(source, []).append(target)
        succ.setdefault(target, [])
    done: set[str] = set()
    for root in succ:
        if root in done:
            continue
        path, on_path = [root], {root: 0}
        stack = [iter(succ[root])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                finished = path.pop()
                del on_path[finished]
                done.add(finished)
                stack.pop()
                continue
            if nxt in on_path:
                return path[on_path[nxt]:]
            if nxt in done:
                continue
            on_path[nxt] = len(path)
            path.append(nxt)
            stack.append(iter(succ[nxt]))
    return None


def _ends_of(edge_id: str) -> tuple[str, str] | None:
    """(source, target) encoded in an id made by :func:`schema.edge_id`, or None."""
    head, sep, tail = edge_id.partition(":")
    if not sep or "->" not in tail:
        return None
    source, _, target = tail.partition("->")
    return source, target
