"""Cypher builders shared by both stores: the statements whose text is the same in LadybugDB and Neo4j.

Each returns ``(query, params)``; values are always ``$parameters`` and labels/relationship types are
interpolated only from the closed enums. The dialect modules (:mod:`cypher_ladybug`, :mod:`cypher_neo4j`)
re-export these and add what differs: DDL, case-insensitive matching and variable-length path lengths.
"""

from __future__ import annotations

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

def set_meta(name: str, value: str) -> Q:
    return f"MERGE (m:{StoreLabel.META.value} {{name: $name}}) SET m.value = $value", {"name": name, "value": value}

def upsert_graph(name: str, description: str, properties: str, nodes: int, edges: int, updated: str) -> Q:
    return (
        f"MERGE (g:{StoreLabel.GRAPH.value} {{name: $name}}) SET g.description = $description, "
        "g.properties = $properties, g.node_count = $nodes, g.edge_count = $edges, g.updated = $updated",
        {"name": name, "description": description, "properties": properties, "nodes": nodes, "edges": edges,
         "updated": updated},
    )

_NODE_SET = ("SET n.id = r.id, n.graph = r.graph, n.type = r.type, n.name = r.name, n.description = r.description, "
             "n.properties = r.properties, n.annotations = r.annotations, n.prov_source = r.prov_source, "
             "n.prov_detail = r.prov_detail")

_NODE_PROPS = ", ".join(f"{c}: r.{c}" for c in ("key", "id", "graph", "type", "name", "description", "properties",
                                                "annotations", "prov_source", "prov_detail"))

_EDGE_PROPS = ", ".join(f"{c}: r.{c}" for c in ("key", "id", "graph", "relation", "template", "weight", "properties",
                                                "annotations", "prov_source", "prov_detail"))

_EDGE_SET = ("SET e.id = r.id, e.graph = r.graph, e.relation = r.relation, e.template = r.template, "
             "e.weight = r.weight, e.properties = r.properties, e.annotations = r.annotations, "
             "e.prov_source = r.prov_source, e.prov_detail = r.prov_detail")

_NODE_COLS_R = ", ".join(f"n.{c} AS {c}" for c in ("key", "id", "graph", "type", "name", "description", "properties",
                                                    "annotations", "prov_source", "prov_detail"))

_EDGE_COLS_R = ", ".join(f"e.{c} AS {c}" for c in ("key", "id", "graph", "relation", "template", "weight", "properties",
                                                    "annotations", "prov_source", "prov_detail"))

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
        f"MATCH (n:{_n(label)}) WHERE n.graph = $graph RETURN n.id AS id, n.type AS type, n.name AS name, "
        "n.description AS description, n.properties AS properties, n.annotations AS annotations, "
        "n.prov_source AS prov_source, n.prov_detail AS prov_detail ORDER BY id",
        {"graph": graph},
    )

def graph_edges(etype: EdgeType, graph: str) -> Q:
    return (
        f"MATCH (a)-[e:{_e(etype)}]->(b) WHERE e.graph = $graph RETURN e.id AS id, $type AS type, a.id AS source, "
        "b.id AS target, e.relation AS relation, e.template AS template, e.weight AS weight, "
        "e.properties AS properties, e.annotations AS annotations, e.prov_source AS prov_source, "
        "e.prov_detail AS prov_detail ORDER BY id",
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
    return (
        f"MATCH (g:{StoreLabel.GRAPH.value}) OPTIONAL MATCH (r:{StoreLabel.RUN.value}) WHERE r.graph = g.name "
        "RETURN g.name AS name, g.description AS description, g.node_count AS nodes, g.edge_count AS edges, "
        "count(r) AS runs, g.updated AS updated ORDER BY name",
        {},
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
