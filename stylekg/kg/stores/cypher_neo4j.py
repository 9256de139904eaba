"""Every Cypher statement the Neo4j store runs, as builders returning ``(query, params)``.

Values are always ``$parameters``; labels and relationship types are interpolated only from the closed enums
(:class:`NodeType`, :class:`EdgeType`, :class:`StoreLabel`, :class:`StoreRel`). The LadybugDB twin is
:mod:`stylekg.kg.stores.cypher_ladybug`: same builder names, same rows (Neo4j differs in DDL and in measuring
variable-length paths with ``length(path)``).
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


# schema version → statements upgrading it to version + 1 (the migration hook; none needed yet)
MIGRATIONS: dict[int, tuple[str, ...]] = {}


def schema_statements() -> list[str]:
    """Uniqueness constraints (which also index) and property indexes, all ``IF NOT EXISTS``."""
    stmts = []
    for t in NodeType:
        low = t.value.lower()
        stmts.append(f"CREATE CONSTRAINT stylekg_{low}_key IF NOT EXISTS FOR (n:{t.value}) REQUIRE n.key IS UNIQUE")
        stmts.append(f"CREATE INDEX stylekg_{low}_graph IF NOT EXISTS FOR (n:{t.value}) ON (n.graph)")
    for t in EdgeType:
        low = t.value.lower()
        stmts.append(
            f"CREATE CONSTRAINT stylekg_{low}_key IF NOT EXISTS FOR ()-[e:{t.value}]-() REQUIRE e.key IS UNIQUE"
        )
        stmts.append(f"CREATE INDEX stylekg_{low}_graph IF NOT EXISTS FOR ()-[e:{t.value}]-() ON (e.graph)")
    stmts += [
        f"CREATE CONSTRAINT stylekg_graph_name IF NOT EXISTS FOR (g:{StoreLabel.GRAPH.value}) REQUIRE g.name IS UNIQUE",
        f"CREATE CONSTRAINT stylekg_run_id IF NOT EXISTS FOR (r:{StoreLabel.RUN.value}) REQUIRE r.id IS UNIQUE",
        f"CREATE INDEX stylekg_run_graph IF NOT EXISTS FOR (r:{StoreLabel.RUN.value}) ON (r.graph)",
        f"CREATE INDEX stylekg_run_created IF NOT EXISTS FOR (r:{StoreLabel.RUN.value}) ON (r.created)",
        f"CREATE INDEX stylekg_measured_name IF NOT EXISTS FOR ()-[m:{StoreRel.MEASURED.value}]-() ON (m.name)",
        f"CREATE CONSTRAINT stylekg_meta_name IF NOT EXISTS FOR (m:{StoreLabel.META.value}) REQUIRE m.name IS UNIQUE",
    ]
    return stmts


# ---- graphs ------------------------------------------------------------------------------


def find_node(graph: str, name_or_id: str) -> Q:
    """Nodes of ``graph`` whose id is ``name_or_id`` or whose name matches it case-insensitively."""
    parts = [
        f"MATCH (n:{t.value}) WHERE n.graph = $graph AND (n.id = $q OR toLower(n.name) = toLower($q)) "
        "RETURN n.id AS id, n.type AS type, n.name AS name"
        for t in NodeType
    ]
    return " UNION ALL ".join(parts), {"graph": graph, "q": name_or_id}


# ---- runs --------------------------------------------------------------------------------


# ---- named queries (see stylekg.kg.queries) ------------------------------------------------
def subclass_effects(label: NodeType, key: str) -> Q:
    """Subclasses of a node at any depth, each with the metrics of the latest run that touched it."""
    return (
        f"MATCH path = (c)-[:{EdgeType.SUBCLASS_OF.value}*1..{MAX_DEPTH}]->(p:{_n(label)}) WHERE p.key = $key "
        "WITH c, min(length(path)) AS depth "
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
        f"MATCH path = (c)-[:{EdgeType.SUBCLASS_OF.value}*0..{MAX_DEPTH}]->(p:{_n(label)}) WHERE p.key = $key "
        "WITH r, c, min(length(path)) AS depth "
        f"OPTIONAL MATCH (r)-[m:{StoreRel.MEASURED.value}]->(c) "
        "RETURN r.id AS run, r.method AS method, c.id AS id, c.name AS name, depth, m.edge AS edge, "
        "m.name AS metric, m.value AS value ORDER BY depth, id, edge, metric",
        {"key": key, "kind": kind},
    )


def shared_parent_styles(label: NodeType, key: str) -> Q:
    """Concrete styles under an abstract parent at any depth, nearest first."""
    return (
        f"MATCH path = (s:{NodeType.STYLE.value})-[:{EdgeType.SUBCLASS_OF.value}*1..{MAX_DEPTH}]->(p:{_n(label)}) "
        "WHERE p.key = $key RETURN s.id AS id, s.name AS name, min(length(path)) AS depth ORDER BY depth, id",
        {"key": key},
    )


