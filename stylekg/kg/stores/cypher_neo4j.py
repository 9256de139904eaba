"""The Cypher of the Neo4j store: its DDL and dialect; every other builder is shared (:mod:`cypher_common`).

Values are always ``$parameters``; labels and relationship types are interpolated only from the closed enums
(:class:`NodeType`, :class:`EdgeType`, :class:`StoreLabel`, :class:`StoreRel`). The LadybugDB twin is
:mod:`stylekg.kg.stores.cypher_ladybug`: same builder names, same rows (Neo4j differs in DDL, in case folding and in
binding a variable-length path to measure it).
"""

from __future__ import annotations

from ..schema import EdgeType, NodeType
from .base import StoreLabel, StoreRel
from .cypher_common import *  # noqa: F401,F403  (re-exported: the store calls every builder through this module)
from .cypher_common import Dialect

# Neo4j folds case with toLower(); a variable-length walk is measured by binding the whole path
DIALECT = Dialect(lower="toLower", walk="{var} = {src}-[:{rel}*{lo}..{hi}]->{dst}")
find_node = DIALECT.find_node
subclass_effects = DIALECT.subclass_effects
last_edit_effects = DIALECT.last_edit_effects
shared_parent_styles = DIALECT.shared_parent_styles
latest_run_on_subclasses = DIALECT.latest_run_on_subclasses
run_on_subclasses = DIALECT.run_on_subclasses
common_parents = DIALECT.common_parents


# schema version → statements upgrading it to version + 1
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (f"MATCH (g:{StoreLabel.GRAPH.value}) REMOVE g.node_count, g.edge_count",),
}


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
