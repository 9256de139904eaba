"""Every Cypher builder of both stores: LadybugDB and Neo4j share all statements but their DDL.

Each returns ``(query, params)``; values are always ``$parameters`` and labels/relationship types are
interpolated only from the closed enums. The few builders whose text differs between the dialects
(case-insensitive matching, variable-length path lengths) are methods of :class:`Dialect`; each dialect
module (:mod:`cypher_ladybug`, :mod:`cypher_neo4j`) re-exports the rest, adds its DDL and binds its
:class:`Dialect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..schema import EdgeType, NodeType
from .base import MAX_DEPTH, StoreLabel, StoreRel

Q = tuple[str, dict[str, Any]]

_GRAPH_RELS = "|".join(t.value for t in EdgeType)

def _n(label: NodeType) -> str:
    return NodeType(label).value

def _e(etype: EdgeType) -> str:
    return EdgeType(etype).value

def get_meta(name: str) -> Q:
    return f"MATCH (m:{StoreLabel.META.value}) WHERE m.name = $name RETURN m.value AS value", {"name": name}

def list_meta() -> Q:
    """Every ``StyleKGMeta`` row (stylekg's own metadata, which no ``--write`` query may change)."""
    return f"MATCH (m:{StoreLabel.META.value}) RETURN m.name AS name, m.value AS value ORDER BY name", {}

def set_meta(name: str, value: str) -> Q:
    return f"MERGE (m:{StoreLabel.META.value} {{name: $name}}) SET m.value = $value", {"name": name, "value": value}

def upsert_graph(name: str, description: str, properties: str, updated: str) -> Q:
    """The ``Graph`` node (its sizes are never stored: :func:`count_nodes` / :func:`count_edges` derive them)."""
    return (
        f"MERGE (g:{StoreLabel.GRAPH.value} {{name: $name}}) SET g.description = $description, "
        "g.properties = $properties, g.updated = $updated",
        {"name": name, "description": description, "properties": properties, "updated": updated},
    )

# stored properties of a node / an edge (``key`` first: it identifies the row and is never SET)
_NODE_FIELDS = ("key", "id", "graph", "type", "name", "description", "properties", "annotations", "prov_source",
                "prov_detail")
_EDGE_FIELDS = ("key", "id", "graph", "relation", "template", "weight", "properties", "annotations", "prov_source",
                "prov_detail")


def _props(fields: tuple[str, ...]) -> str:
    """``key: r.key, id: r.id, ...``: a CREATE property map from the ``UNWIND`` row ``r``."""
    return ", ".join(f"{c}: r.{c}" for c in fields)


def _set(var: str, fields: tuple[str, ...]) -> str:
    """``SET n.id = r.id, ...``: every field but the key from the ``UNWIND`` row ``r``."""
    return "SET " + ", ".join(f"{var}.{c} = r.{c}" for c in fields[1:])


def _cols(var: str, fields: tuple[str, ...]) -> str:
    """``n.key AS key, ...``: the fields as row columns."""
    return ", ".join(f"{var}.{c} AS {c}" for c in fields)


_NODE_PROPS, _NODE_SET, _NODE_COLS_R = _props(_NODE_FIELDS), _set("n", _NODE_FIELDS), _cols("n", _NODE_FIELDS)
_EDGE_PROPS, _EDGE_SET, _EDGE_COLS_R = _props(_EDGE_FIELDS), _set("e", _EDGE_FIELDS), _cols("e", _EDGE_FIELDS)
# what a loaded node / edge needs beyond its identity (the graph is known; an edge's ends come from a and b)
_NODE_COLS = _cols("n", tuple(c for c in _NODE_FIELDS if c not in ("key", "graph")))
_EDGE_COLS = _cols("e", _EDGE_FIELDS[_EDGE_FIELDS.index("relation"):])

def node_keys(label: NodeType, graph: str) -> Q:
    """The graph's stored nodes with this label, as rows comparable with new ones (creates vs updates vs no-ops)."""
    return f"MATCH (n:{_n(label)}) WHERE n.graph = $graph RETURN {_NODE_COLS_R}", {"graph": graph}

def edge_keys(etype: EdgeType, graph: str) -> Q:
    return (
        f"MATCH (a)-[e:{_e(etype)}]->(b) WHERE e.graph = $graph RETURN {_EDGE_COLS_R}, a.key AS src, b.key AS dst",
        {"graph": graph},
    )

def create_nodes(label: NodeType, rows: list[dict[str, Any]]) -> Q:
    return f"UNWIND $rows AS r CREATE (n:{_n(label)} {{{_NODE_PROPS}}})", {"rows": rows}

def update_nodes(label: NodeType, rows: list[dict[str, Any]]) -> Q:
    return f"UNWIND $rows AS r MATCH (n:{_n(label)} {{key: r.key}}) {_NODE_SET}", {"rows": rows}

def create_edges(etype: EdgeType, src: NodeType, dst: NodeType, rows: list[dict[str, Any]]) -> Q:
    """Returns one row ``n``: how many edges found both endpoints (the store checks it equals the batch)."""
    return (
        f"UNWIND $rows AS r MATCH (a:{_n(src)} {{key: r.src}}) MATCH (b:{_n(dst)} {{key: r.dst}}) "
        f"CREATE (a)-[e:{_e(etype)} {{{_EDGE_PROPS}}}]->(b) RETURN count(*) AS n",
        {"rows": rows},
    )

def update_edges(etype: EdgeType, src: NodeType, dst: NodeType, rows: list[dict[str, Any]]) -> Q:
    """Like :func:`create_edges` for edges already stored (found through their endpoints' keys)."""
    return (
        f"UNWIND $rows AS r MATCH (a:{_n(src)} {{key: r.src}})-[e:{_e(etype)}]->(b:{_n(dst)} {{key: r.dst}}) "
        f"WHERE e.key = r.key {_EDGE_SET} RETURN count(*) AS n",
        {"rows": rows},
    )

def delete_nodes_by_key(label: NodeType, keys: list[str]) -> Q:
    return f"UNWIND $keys AS k MATCH (n:{_n(label)} {{key: k}}) DETACH DELETE n", {"keys": keys}

def delete_edges_by_key(etype: EdgeType, keys: list[str]) -> Q:
    return f"UNWIND $keys AS k MATCH ()-[e:{_e(etype)}]->() WHERE e.key = k DELETE e", {"keys": keys}

def get_graph(name: str) -> Q:
    return (
        f"MATCH (g:{StoreLabel.GRAPH.value}) WHERE g.name = $name "
        "RETURN g.name AS name, g.description AS description, g.properties AS properties",
        {"name": name},
    )

def graph_nodes(label: NodeType, graph: str) -> Q:
    return (
        f"MATCH (n:{_n(label)}) WHERE n.graph = $graph RETURN {_NODE_COLS} ORDER BY id",
        {"graph": graph},
    )

def graph_edges(etype: EdgeType, graph: str) -> Q:
    return (
        f"MATCH (a)-[e:{_e(etype)}]->(b) WHERE e.graph = $graph RETURN e.id AS id, $type AS type, a.id AS source, "
        f"b.id AS target, {_EDGE_COLS} ORDER BY id",
        {"graph": graph, "type": _e(etype)},
    )

def neighbourhood(key: str, depth: int) -> Q:
    """Keys of nodes within ``depth`` graph hops of the node ``key`` (either direction)."""
    depth = max(1, min(int(depth), MAX_DEPTH))
    return (
        f"MATCH (r)-[:{_GRAPH_RELS}*1..{depth}]-(n) WHERE r.key = $key RETURN DISTINCT n.key AS key ORDER BY key",
        {"key": key},
    )

def list_graphs() -> Q:
    """Stored graphs with their number of runs (sizes: :func:`count_nodes`, :func:`count_edges`)."""
    return (
        f"MATCH (g:{StoreLabel.GRAPH.value}) OPTIONAL MATCH (r:{StoreLabel.RUN.value}) WHERE r.graph = g.name "
        "RETURN g.name AS name, g.description AS description, count(r) AS runs, g.updated AS updated ORDER BY name",
        {},
    )

def list_graph_heads() -> Q:
    """Every ``Graph`` row as :func:`get_graph` returns one."""
    return (
        f"MATCH (g:{StoreLabel.GRAPH.value}) "
        "RETURN g.name AS name, g.description AS description, g.properties AS properties ORDER BY name",
        {},
    )

def count_nodes(label: NodeType) -> Q:
    """Nodes with this label per graph: rows ``{graph, n}``."""
    return f"MATCH (n:{_n(label)}) RETURN n.graph AS graph, count(*) AS n", {}

def count_edges(etype: EdgeType) -> Q:
    """Edges of this type per graph: rows ``{graph, n}``."""
    return f"MATCH ()-[e:{_e(etype)}]->() RETURN e.graph AS graph, count(*) AS n", {}

def stray_nodes(label: NodeType) -> Q:
    """Nodes with this label whose identity is broken: no id/graph/name, a key other than ``id@graph``, or a
    ``type`` other than the label (what a careless ``--write`` leaves behind); at most 5."""
    return (
        f"MATCH (n:{_n(label)}) WHERE n.id IS NULL OR n.graph IS NULL OR n.key IS NULL OR n.name IS NULL "
        "OR n.name = '' OR n.key <> n.id + '@' + n.graph OR n.type IS NULL OR n.type <> $type "
        "RETURN n.key AS key, n.id AS id, n.graph AS graph LIMIT 5",
        {"type": _n(label)},
    )

def stray_edges(etype: EdgeType) -> Q:
    """Edges of this type whose identity is broken (no id/graph, key other than ``id@graph``) or that join
    nodes of another graph; at most 5."""
    return (
        f"MATCH (a)-[e:{_e(etype)}]->(b) WHERE e.id IS NULL OR e.graph IS NULL OR e.key IS NULL "
        "OR e.key <> e.id + '@' + e.graph OR a.graph IS NULL OR b.graph IS NULL OR a.graph <> e.graph "
        "OR b.graph <> e.graph RETURN e.key AS key, e.id AS id LIMIT 5",
        {},
    )

def count_run_links(label: NodeType, keys: list[str]) -> Q:
    """How many links of runs (``TOUCHED``, ``MEASURED``) point at the nodes ``keys``: rows ``[{n}]``."""
    return (
        f"UNWIND $keys AS k MATCH (r:{StoreLabel.RUN.value})-[l]->(n:{_n(label)} {{key: k}}) RETURN count(l) AS n",
        {"keys": keys},
    )

def delete_runs(graph: str) -> Q:
    return f"MATCH (r:{StoreLabel.RUN.value}) WHERE r.graph = $graph DETACH DELETE r", {"graph": graph}

def delete_nodes(label: NodeType, graph: str) -> Q:
    return f"MATCH (n:{_n(label)}) WHERE n.graph = $graph DETACH DELETE n", {"graph": graph}

def delete_graph(name: str) -> Q:
    return f"MATCH (g:{StoreLabel.GRAPH.value}) WHERE g.name = $name DELETE g", {"name": name}

_RUN_FIELDS = ("id", "kind", "method", "model", "graph", "hparams_hash", "created", "version", "status", "params")

_RUN_RETURN = ", ".join(f"r.{f} AS {f}" for f in _RUN_FIELDS)

def create_run(row: dict[str, Any]) -> Q:
    """CREATE (not MERGE): an existing run id violates the key constraint, so nothing is overwritten."""
    props = ", ".join(f"{f}: ${f}" for f in _RUN_FIELDS)
    return f"CREATE (r:{StoreLabel.RUN.value} {{{props}}})", {f: row[f] for f in _RUN_FIELDS}

def find_nodes(label: NodeType, keys: list[str]) -> Q:
    """Which of ``keys`` are nodes with this label."""
    return f"UNWIND $keys AS k MATCH (n:{_n(label)} {{key: k}}) RETURN n.key AS key", {"keys": keys}

def find_edges(etype: EdgeType, keys: list[str]) -> Q:
    """Edges among ``keys``: the edge key, its source node's key and type, and the edge id."""
    return (
        f"UNWIND $keys AS k MATCH (a)-[e:{_e(etype)}]->() WHERE e.key = k "
        "RETURN e.key AS target, a.key AS key, a.type AS type, e.id AS edge",
        {"keys": keys},
    )

def link_touched(label: NodeType, rows: list[dict[str, Any]]) -> Q:
    return (
        f"UNWIND $rows AS r MATCH (run:{StoreLabel.RUN.value} {{id: r.run}}), (n:{_n(label)} {{key: r.key}}) "
        f"CREATE (run)-[:{StoreRel.TOUCHED.value} {{role: r.role, edge: r.edge, graph: r.graph, pos: r.pos}}]->(n)",
        {"rows": rows},
    )

def link_measured(label: NodeType, rows: list[dict[str, Any]]) -> Q:
    return (
        f"UNWIND $rows AS r MATCH (run:{StoreLabel.RUN.value} {{id: r.run}}), (n:{_n(label)} {{key: r.key}}) "
        f"CREATE (run)-[:{StoreRel.MEASURED.value} {{name: r.name, value: r.value, role: r.role, edge: r.edge, "
        "graph: r.graph}]->(n)",
        {"rows": rows},
    )

def list_runs(graph: str | None) -> Q:
    where = "WHERE r.graph = $graph " if graph is not None else ""
    return (
        f"MATCH (r:{StoreLabel.RUN.value}) {where}RETURN {_RUN_RETURN} ORDER BY created DESC, id DESC",
        {"graph": graph} if graph is not None else {},
    )

def get_run(run_id: str) -> Q:
    return f"MATCH (r:{StoreLabel.RUN.value}) WHERE r.id = $id RETURN {_RUN_RETURN}", {"id": run_id}

def run_targets(run_id: str) -> Q:
    return (
        f"MATCH (r:{StoreLabel.RUN.value})-[t:{StoreRel.TOUCHED.value}]->(n) WHERE r.id = $id "
        "RETURN n.id AS id, t.edge AS edge, t.role AS role ORDER BY t.pos",
        {"id": run_id},
    )

def run_metrics(run_id: str) -> Q:
    return (
        f"MATCH (r:{StoreLabel.RUN.value})-[m:{StoreRel.MEASURED.value}]->(n) WHERE r.id = $id "
        "RETURN n.id AS id, m.edge AS edge, m.role AS role, m.name AS name, m.value AS value ORDER BY id, edge, name",
        {"id": run_id},
    )

def weak_edits(threshold: float, metric: str, kind: str = "edit") -> Q:
    """Edit runs whose ``metric`` on some node fell below ``threshold``, weakest first."""
    return (
        f"MATCH (r:{StoreLabel.RUN.value})-[m:{StoreRel.MEASURED.value}]->(n) "
        "WHERE r.kind = $kind AND m.name = $metric AND m.value < $threshold "
        "RETURN r.id AS run, r.graph AS graph, r.method AS method, r.created AS created, n.id AS id, "
        "n.name AS name, m.edge AS edge, m.value AS value ORDER BY value, run, id, edge",
        {"threshold": float(threshold), "metric": metric, "kind": kind},
    )


# ---- the pipeline's write-back -----------------------------------------------------------------

SUBCLASS_METRICS = ("held_before", "held_after", "marker_logprob_delta")
"""The metrics :func:`subclass_run_metrics` reports by default: the style-presence probe before/after the edit."""


def subclass_run_metrics(node_id: str, graph: str, run_id: str, metrics: Sequence[str] = SUBCLASS_METRICS) -> Q:
    """One run's ``metrics`` on every subclass (any depth) of the node ``node_id``: rows ``{style, metric, value}``.

    Spread over lines: the run report prints it for the reader to run again (``stylekg query``)."""
    return (
        f"MATCH (s)-[:{EdgeType.SUBCLASS_OF.value}*1..{MAX_DEPTH}]->(p {{id: $node, graph: $graph}})\n"
        f"MATCH (r:{StoreLabel.RUN.value} {{id: $run}})-[m:{StoreRel.MEASURED.value}]->(s)\n"
        "WHERE m.name IN $metrics\n"
        "RETURN s.name AS style, m.name AS metric, m.value AS value ORDER BY style, metric",
        {"node": node_id, "graph": graph, "run": run_id, "metrics": list(metrics)},
    )


# ---- what differs between the dialects ---------------------------------------------------------

_HOPS = "hops"  # the variable :meth:`Dialect.subclass_walk` binds; ``length(hops)`` is its hop count in both dialects
_METRIC_COLS = "m.edge AS edge, m.name AS metric, m.value AS value ORDER BY depth, id, edge, metric"


@dataclass(frozen=True)
class Dialect:
    """The Cypher a store's database speaks where LadybugDB and Neo4j differ, and the builders that depend on it.

    ``lower`` is the case-folding function; ``walk`` a variable-length path template with the fields ``var``,
    ``src``, ``rel``, ``lo``, ``hi``, ``dst`` that binds ``var`` so that ``length(var)`` is the path's hop
    count (LadybugDB binds the relationship, Neo4j the path). Each dialect module binds one instance's methods
    as its module-level builders.
    """

    lower: str
    walk: str

    def subclass_walk(self, src: str, dst: str, lo: int, hi: int = MAX_DEPTH) -> str:
        """``src`` reaching ``dst`` in ``lo`` to ``hi`` ``SUBCLASS_OF`` hops, bound to ``hops``."""
        return self.walk.format(var=_HOPS, src=src, rel=EdgeType.SUBCLASS_OF.value, lo=lo, hi=max(lo, int(hi)),
                                dst=dst)

    def find_node(self, graph: str, name_or_id: str) -> Q:
        """Nodes of ``graph`` whose id is ``name_or_id`` or whose name matches it case-insensitively."""
        low = self.lower
        parts = [
            f"MATCH (n:{t.value}) WHERE n.graph = $graph AND (n.id = $q OR {low}(n.name) = {low}($q)) "
            "RETURN n.id AS id, n.type AS type, n.name AS name"
            for t in NodeType
        ]
        return " UNION ALL ".join(parts), {"graph": graph, "q": name_or_id}

    # ---- named queries (see stylekg.kg.queries) ----------------------------------------------
    def subclass_effects(self, label: NodeType, key: str) -> Q:
        """Subclasses of a node at any depth, each with the metrics of the latest run that touched it."""
        return (
            f"MATCH {self.subclass_walk('(c)', f'(p:{_n(label)})', 1)} WHERE p.key = $key "
            f"WITH c, min(length({_HOPS})) AS depth "
            f"OPTIONAL MATCH (r:{StoreLabel.RUN.value})-[:{StoreRel.TOUCHED.value}]->(c) "
            "WITH c, depth, max(r.created + '|' + r.id) AS latest "
            f"OPTIONAL MATCH (r2:{StoreLabel.RUN.value})-[m:{StoreRel.MEASURED.value}]->(c) "
            "WHERE r2.created + '|' + r2.id = latest "
            f"RETURN c.id AS id, c.name AS name, c.type AS type, depth, r2.id AS run, {_METRIC_COLS}",
            {"key": key},
        )

    def last_edit_effects(self, label: NodeType, key: str, kind: str = "edit") -> Q:
        """The newest edit run that touched the parent, and its metrics on the parent (depth 0) and every subclass."""
        return (
            f"MATCH (r:{StoreLabel.RUN.value})-[:{StoreRel.TOUCHED.value}]->(p:{_n(label)}) "
            "WHERE p.key = $key AND r.kind = $kind WITH DISTINCT r ORDER BY r.created DESC, r.id DESC LIMIT 1 "
            f"MATCH {self.subclass_walk('(c)', f'(p:{_n(label)})', 0)} WHERE p.key = $key "
            f"WITH r, c, min(length({_HOPS})) AS depth "
            f"OPTIONAL MATCH (r)-[m:{StoreRel.MEASURED.value}]->(c) "
            f"RETURN r.id AS run, r.method AS method, c.id AS id, c.name AS name, depth, {_METRIC_COLS}",
            {"key": key, "kind": kind},
        )

    def latest_run_on_subclasses(self, label: NodeType, key: str, kind: str = "edit") -> Q:
        """The newest run of ``kind`` that measured a subclass (any depth) of the node ``key``: ``[{id, kind,
        method, created}]`` or none."""
        return (
            f"MATCH {self.subclass_walk('(c)', f'(p:{_n(label)})', 1)} WHERE p.key = $key WITH DISTINCT c "
            f"MATCH (r:{StoreLabel.RUN.value})-[:{StoreRel.MEASURED.value}]->(c) WHERE r.kind = $kind "
            "RETURN DISTINCT r.id AS id, r.kind AS kind, r.method AS method, r.created AS created "
            "ORDER BY created DESC, id DESC LIMIT 1",
            {"key": key, "kind": kind},
        )

    def run_on_subclasses(self, label: NodeType, key: str, run_id: str) -> Q:
        """The run ``run_id``'s node-level metrics on every subclass (any depth) of the node ``key``: rows
        ``{id, name, depth, metric, value}``, nearest first (metrics of single edges are left out)."""
        return (
            f"MATCH {self.subclass_walk('(c)', f'(p:{_n(label)})', 1)} WHERE p.key = $key "
            f"WITH c, min(length({_HOPS})) AS depth "
            f"MATCH (r:{StoreLabel.RUN.value})-[m:{StoreRel.MEASURED.value}]->(c) "
            "WHERE r.id = $run AND (m.edge IS NULL OR m.edge = '') "
            "RETURN c.id AS id, c.name AS name, depth, m.name AS metric, m.value AS value "
            "ORDER BY depth, id, metric",
            {"key": key, "run": run_id},
        )

    def common_parents(self, label_a: NodeType, key_a: str, label_b: NodeType, key_b: str) -> Q:
        """Abstract styles both nodes reach through ``SUBCLASS_OF`` (any depth): rows ``{id, name, depth_a,
        depth_b}``, nearest to both first."""
        parent = f"(p:{NodeType.ABSTRACT_STYLE.value})"
        return (
            f"MATCH {self.subclass_walk(f'(a:{_n(label_a)})', parent, 1)} WHERE a.key = $a "
            f"WITH p, min(length({_HOPS})) AS depth_a "
            f"MATCH {self.subclass_walk(f'(b:{_n(label_b)})', '(p)', 1)} WHERE b.key = $b "
            f"WITH p, depth_a, min(length({_HOPS})) AS depth_b "
            "RETURN p.id AS id, p.name AS name, depth_a, depth_b ORDER BY depth_a + depth_b, id",
            {"a": key_a, "b": key_b},
        )

    def shared_parent_styles(self, label: NodeType, key: str, hi: int = MAX_DEPTH) -> Q:
        """Concrete styles under an abstract parent within ``hi`` hops (any depth when ``hi`` is at least the
        graph's number of ``SUBCLASS_OF`` edges: :meth:`GraphStore.walk_bound`), nearest first."""
        walk = self.subclass_walk(f'(s:{NodeType.STYLE.value})', f'(p:{_n(label)})', 1, hi)
        return (
            f"MATCH {walk} WHERE p.key = $key "
            f"RETURN s.id AS id, s.name AS name, min(length({_HOPS})) AS depth ORDER BY depth, id",
            {"key": key},
        )


__all__ = [
    "Q", "Dialect", "SUBCLASS_METRICS",
    "get_meta", "list_meta", "set_meta", "upsert_graph", "node_keys", "edge_keys", "create_nodes", "update_nodes", "create_edges",
    "update_edges", "delete_nodes_by_key", "delete_edges_by_key", "get_graph", "graph_nodes", "graph_edges",
    "neighbourhood", "list_graphs", "list_graph_heads", "count_nodes", "count_edges", "stray_nodes", "stray_edges",
    "count_run_links", "delete_runs", "delete_nodes", "delete_graph", "create_run", "find_nodes",
    "find_edges", "link_touched", "link_measured", "list_runs", "get_run", "run_targets", "run_metrics",
    "weak_edits", "subclass_run_metrics",
]
