"""Named questions about stored graphs and runs, answered by the store's database in Cypher.

Each function takes an open store and returns plain rows (the same rows on LadybugDB and Neo4j). The Cypher
itself lives in the store's module (``store.cypher``); these functions resolve names and shape the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError
from .schema import NodeType
from .stores.base import NEUTRAL_METRIC, GraphStore, node_key


@dataclass
class Effect:
    """One node's metrics in one run (``depth``: SUBCLASS_OF hops below the queried node; 0 = the node)."""

    id: str
    name: str
    depth: int
    run: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    edge_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # edge id → metrics

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "depth": self.depth, "run": self.run, **self.metrics}


def _resolve(store: GraphStore, graph: str, node: str) -> tuple[NodeType, str]:
    """(label, key) of a stored node given by id or name (case-insensitive); one clear error otherwise."""
    hits = store.query(*store.cypher.find_node(graph, node))
    exact = [h for h in hits if h["id"] == node]
    hits = exact or hits
    if len(hits) == 1:
        return NodeType(hits[0]["type"]), node_key(graph, hits[0]["id"])
    if hits:
        raise StoreError(f"{node!r} names several nodes in graph {graph!r}: {', '.join(h['id'] for h in hits)}",
                         hint="pass an id")
    if not store.query(*store.cypher.get_graph(graph)):
        raise StoreError(f"no graph {graph!r} in {store.location}", hint="list graphs with: stylekg kg graphs")
    raise StoreError(f"graph {graph!r} has no node {node!r}", hint="pass a node id or exact name")


def _pivot(rows: list[dict[str, Any]]) -> list[Effect]:
    out: dict[str, Effect] = {}
    for row in rows:
        eff = out.setdefault(row["id"], Effect(row["id"], row["name"], int(row["depth"])))
        if row.get("run"):
            eff.run = row["run"]
        if row.get("metric") is None:
            continue
        if row.get("edge"):
            eff.edge_metrics.setdefault(row["edge"], {})[row["metric"]] = float(row["value"])
        else:
            eff.metrics[row["metric"]] = float(row["value"])
    return list(out.values())


def subclass_effects(store: GraphStore, graph: str, node: str) -> list[Effect]:
    """Every subclass of ``node`` (any depth, nearest first) with the metrics of the latest run that touched it
    (``run`` is None for a subclass no run has touched yet)."""
    label, key = _resolve(store, graph, node)
    return _pivot(store.query(*store.cypher.subclass_effects(label, key)))


def last_edit_effects(store: GraphStore, graph: str, parent: str) -> list[Effect]:
    """The newest edit run that touched ``parent``, and its metrics on the parent (depth 0) and on every
    subclass (depth ≥ 1): how far the edit propagated down the hierarchy. Empty if no edit touched it."""
    label, key = _resolve(store, graph, parent)
    return _pivot(store.query(*store.cypher.last_edit_effects(label, key)))


def shared_parent_styles(store: GraphStore, graph: str, abstract: str) -> list[dict[str, Any]]:
    """Concrete styles (``Style`` nodes) that share the abstract parent ``abstract`` at any depth:
    rows ``{id, name, depth}``, nearest first."""
    label, key = _resolve(store, graph, abstract)
    return store.query(*store.cypher.shared_parent_styles(label, key))


def weak_neighbourhood_edits(store: GraphStore, threshold: float, metric: str = NEUTRAL_METRIC) -> list[dict[str, Any]]:
    """Edit runs whose neighbourhood score (unrelated prompts kept intact) on some node is below ``threshold``:
    rows ``{run, graph, method, created, id, name, edge, value}``, weakest first."""
    return store.query(*store.cypher.weak_edits(threshold, metric))


NAMED_QUERIES = {
    "subclass-effects": subclass_effects,
    "last-edit-effects": last_edit_effects,
    "shared-parent": shared_parent_styles,
    "weak-edits": weak_neighbourhood_edits,
}

__all__ = ["Effect", "NAMED_QUERIES", "last_edit_effects", "shared_parent_styles", "subclass_effects",
           "weak_neighbourhood_edits"]
