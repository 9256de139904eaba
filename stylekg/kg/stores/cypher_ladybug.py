"""The Cypher of the LadybugDB store: its DDL and dialect; every other builder is shared (:mod:`cypher_common`).

Values are always ``$parameters``; labels and relationship types are interpolated only from the closed enums
(:class:`NodeType`, :class:`EdgeType`, :class:`StoreLabel`, :class:`StoreRel`). The Neo4j twin is
:mod:`stylekg.kg.stores.cypher_neo4j`: same builder names, same rows.
"""

from __future__ import annotations

from ..schema import EdgeType, NodeType
from .base import StoreLabel, StoreRel
from .cypher_common import *  # noqa: F401,F403  (re-exported: the store calls every builder through this module)
from .cypher_common import Dialect, Q

# LadybugDB folds case with lower(); its variable-length relationship variable measures the walk
DIALECT = Dialect(lower="lower", walk="{src}-[{var}:{rel}*{lo}..{hi}]->{dst}")
find_node = DIALECT.find_node
subclass_effects = DIALECT.subclass_effects
last_edit_effects = DIALECT.last_edit_effects
shared_parent_styles = DIALECT.shared_parent_styles
latest_run_on_subclasses = DIALECT.latest_run_on_subclasses
run_on_subclasses = DIALECT.run_on_subclasses
common_parents = DIALECT.common_parents


_NODE_COLS = "key STRING PRIMARY KEY, id STRING, graph STRING, type STRING, name STRING, description STRING, " \
             "properties STRING, annotations STRING, prov_source STRING, prov_detail STRING"
_EDGE_COLS = "key STRING, id STRING, graph STRING, relation STRING, template STRING, weight DOUBLE, " \
             "properties STRING, annotations STRING, prov_source STRING, prov_detail STRING"

# schema version → statements upgrading it to version + 1
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (f"ALTER TABLE {StoreLabel.GRAPH.value} DROP node_count", f"ALTER TABLE {StoreLabel.GRAPH.value} DROP edge_count"),
}

META_TABLE_EXISTS: Q = ("CALL show_tables() WHERE name = $name RETURN name", {"name": StoreLabel.META.value})


def schema_statements() -> list[str]:
    """DDL for the whole schema (one node table per label; relationship tables over every label pair)."""
    stmts = [f"CREATE NODE TABLE IF NOT EXISTS {t.value}({_NODE_COLS})" for t in NodeType]
    stmts += [
        f"CREATE NODE TABLE IF NOT EXISTS {StoreLabel.GRAPH.value}(name STRING PRIMARY KEY, description STRING, "
        "properties STRING, updated STRING)",
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
