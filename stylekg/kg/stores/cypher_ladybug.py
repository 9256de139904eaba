"""Every Cypher statement the LadybugDB store runs, as builders returning ``(query, params)``.

Values are always ``$parameters``; labels and relationship types are interpolated only from the closed enums
(:class:`NodeType`, :class:`EdgeType`, :class:`StoreLabel`, :class:`StoreRel`). The Neo4j twin is
:mod:`stylekg.kg.stores.cypher_neo4j`: same builder names, same rows.
"""

from __future__ import annotations

from typing import Any

from ..schema import EdgeType, NodeType
from .base import MAX_DEPTH, StoreLabel, StoreRel
from .cypher_common import (  # noqa: F401  (re-exported: the store calls every builder through this module)
    Q,
    _GRAPH_RELS,
    _n,
    _e,
    get_meta,
    set_meta,
    upsert_graph,
    _NODE_SET,
    _NODE_PROPS,
    _EDGE_PROPS,
    _EDGE_SET,
    _NODE_COLS_R,
    _EDGE_COLS_R,
    node_keys,
    edge_keys,
    create_nodes,
    update_nodes,
    create_edges,
    update_edges,
    delete_nodes_by_key,
    delete_edges_by_key,
    get_graph,
    graph_nodes,
    graph_edges,
    neighbourhood,
    list_graphs,
    delete_runs,
    delete_nodes,
    delete_graph,
    _RUN_FIELDS,
    _RUN_RETURN,
    create_run,
    find_nodes,
    find_edges,
    link_touched,
    link_measured,
    list_runs,
    get_run,
    run_targets,
    run_metrics,
    weak_edits,
)


_NODE_COLS = "key STRING PRIMARY KEY, id STRING, graph STRING, type STRING, name STRING, description STRING, " \
             "properties STRING, annotations STRING, prov_source STRING, prov_detail STRING"
_EDGE_COLS = "key STRING, id STRING, graph STRING, relation STRING, template STRING, weight DOUBLE, " \
             "properties STRING, annotations STRING, prov_source STRING, prov_detail STRING"

# schema version → statements upgrading it to version + 1 (the migration hook; none needed yet)
MIGRATIONS: dict[int, tuple[str, ...]] = {}

META_TABLE_EXISTS: Q = ("CALL show_tables() WHERE name = $name RETURN name", {"name": StoreLabel.META.value})


def schema_statements() -> list[str]:
    """DDL for the whole schema (one node table per label; relationship tables over every label pair)."""
    stmts = [f"CREATE NODE TABLE IF NOT EXISTS {t.value}({_NODE_COLS})" for t in NodeType]
    stmts += [
        f"CREATE NODE TABLE IF NOT EXISTS {StoreLabel.GRAPH.value}(name STRING PRIMARY KEY, description STRING, "
        "properties STRING, node_count INT64, edge_count INT64, updated STRING)",
        f"CREATE NODE TABLE IF NOT EXISTS {StoreLabel.RUN.value}(id STRING PRIMARY KEY, kind STRING, method STRING, "
        "model STRING, graph STRING, hparams_hash STRING, created STRING, version STRING, status STRING, params STRING)",
        f"CREATE NODE TABLE IF NOT EXISTS {StoreLabel.META.value}(name STRING PRIMARY KEY, value STRING)",
    ]
    pairs = ", ".join(f"FROM {a.value} TO {b.value}" for a in NodeType for b in NodeType)
    stmts += [f"CREATE REL TABLE IF NOT EXISTS {t.value}({pairs}, {_EDGE_COLS})" for t in EdgeType]
    runs = ", ".join(f"FROM {StoreLabel.RUN.value} TO {t.value}" for t in NodeType)
    stmts += [
        f"CREATE REL TABLE IF NOT EXISTS {StoreRel.TOUCHED.value}({runs}, role STRING, edge STRING, graph STRING, pos INT64)",
        f"CREATE REL TABLE IF NOT EXISTS {StoreRel.MEASURED.value}({runs}, name STRING, value DOUBLE, role STRING, "
        "edge STRING, graph STRING)",
    ]
    return stmts


# ---- graphs ------------------------------------------------------------------------------


def find_node(graph: str, name_or_id: str) -> Q:
    """Nodes of ``graph`` whose id is ``name_or_id`` or whose name matches it case-insensitively."""
    parts = [
        f"MATCH (n:{t.value}) WHERE n.graph = $graph AND (n.id = $q OR lower(n.name) = lower($q)) "
        "RETURN n.id AS id, n.type AS type, n.name AS name"
        for t in NodeType
    ]
    return " UNION ALL ".join(parts), {"graph": graph, "q": name_or_id}


# ---- runs --------------------------------------------------------------------------------


# ---- named queries (see stylekg.kg.queries) ------------------------------------------------
def subclass_effects(label: NodeType, key: str) -> Q:
    """Subclasses of a node at any depth, each with the metrics of the latest run that touched it."""
    return (
        f"MATCH (c)-[s:{EdgeType.SUBCLASS_OF.value}*1..{MAX_DEPTH}]->(p:{_n(label)}) WHERE p.key = $key "
        "WITH c, min(length(s)) AS depth "
        f"OPTIONAL MATCH (r:{StoreLabel.RUN.value})-[:{StoreRel.TOUCHED.value}]->(c) "
        "WITH c, depth, max(r.created + '|' + r.id) AS latest "
        f"OPTIONAL MATCH (r2:{StoreLabel.RUN.value})-[m:{StoreRel.MEASURED.value}]->(c) "
        "WHERE r2.created + '|' + r2.id = latest "
        "RETURN c.id AS id, c.name AS name, c.type AS type, depth, r2.id AS run, m.edge AS edge, "
        "m.name AS metric, m.value AS value ORDER BY depth, id, edge, metric",
        {"key": key},
    )


def last_edit_effects(label: NodeType, key: str, kind: str = "edit") -> Q:
    """The newest edit run that touched the parent, and its metrics on the parent (depth 0) and every subclass."""
    return (
        f"MATCH (r:{StoreLabel.RUN.value})-[:{StoreRel.TOUCHED.value}]->(p:{_n(label)}) "
        "WHERE p.key = $key AND r.kind = $kind WITH DISTINCT r ORDER BY r.created DESC, r.id DESC LIMIT 1 "
        f"MATCH (c)-[s:{EdgeType.SUBCLASS_OF.value}*0..{MAX_DEPTH}]->(p:{_n(label)}) WHERE p.key = $key "
        "WITH r, c, min(length(s)) AS depth "
        f"OPTIONAL MATCH (r)-[m:{StoreRel.MEASURED.value}]->(c) "
        "RETURN r.id AS run, r.method AS method, c.id AS id, c.name AS name, depth, m.edge AS edge, "
        "m.name AS metric, m.value AS value ORDER BY depth, id, edge, metric",
        {"key": key, "kind": kind},
    )


def shared_parent_styles(label: NodeType, key: str) -> Q:
    """Concrete styles under an abstract parent at any depth, nearest first."""
    return (
        f"MATCH (s:{NodeType.STYLE.value})-[e:{EdgeType.SUBCLASS_OF.value}*1..{MAX_DEPTH}]->(p:{_n(label)}) "
        "WHERE p.key = $key RETURN s.id AS id, s.name AS name, min(length(e)) AS depth ORDER BY depth, id",
        {"key": key},
    )


