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

HEADLINE_METRICS: tuple[str, ...] = ("gen_marker_rate", "held", "marker_logprob", "efficacy", "drift")
"""The metrics ``stylekg query subclass-effects`` shows first, in this order (``MEASURED`` edge names):

* ``gen_marker_rate``: style markers per 1,000 generated tokens, stored as ``gen_marker_rate_before`` /
  ``gen_marker_rate_after``;
* ``held``: share of the style's marker edges the model holds (marker beats its neutral form), ``held_before`` /
  ``held_after``;
* ``marker_logprob``: mean log-probability of the markers, ``marker_logprob_before`` / ``marker_logprob_after``;
* ``efficacy`` and ``drift``: single values measured after the edit.

A metric is *headline* when it is stored as a ``NAME_before`` / ``NAME_after`` pair (these and any other pair) or
is one of :data:`SINGLE_HEADLINE_METRICS`."""

SINGLE_HEADLINE_METRICS: tuple[str, ...] = ("efficacy", "drift")
"""Headline metrics stored as one value, not as a before/after pair."""

BEFORE, AFTER = "_before", "_after"


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
    return store.query(*store.cypher.shared_parent_styles(label, key, store.walk_bound(graph)))


@dataclass
class MetricChange:
    """One style's metric in one run, in long form: ``before``/``after`` for a pair, ``after`` alone for a single
    value (``change`` = after − before, when both exist)."""

    style: str
    metric: str
    before: float | None
    after: float | None
    change: float | None
    id: str = ""
    depth: int = 0

    def as_row(self) -> dict[str, Any]:
        return {"style": self.style, "metric": self.metric, "before": self.before, "after": self.after,
                "change": self.change}


@dataclass
class SubclassChanges:
    """A run's metrics on every subclass of a node (``run`` is None when no run measured them yet)."""

    node: str
    run: dict[str, Any] | None
    rows: list[MetricChange]


def _metric_order(name: str) -> tuple[int, str]:
    return (HEADLINE_METRICS.index(name) if name in HEADLINE_METRICS else len(HEADLINE_METRICS), name)


def long_form(values: dict[str, float], metrics: list[str] | None = None) -> list[tuple[str, float | None, float | None]]:
    """``(metric, before, after)`` from one style's stored metrics: the headline ones by default (pairs, plus
    :data:`SINGLE_HEADLINE_METRICS`), else the ``metrics`` asked for (a pair's base name or any stored name)."""
    pairs = {k[: -len(BEFORE)] for k in values if k.endswith(BEFORE) and k[: -len(BEFORE)] + AFTER in values}
    wanted = list(dict.fromkeys(metrics)) if metrics else sorted(
        pairs | {m for m in SINGLE_HEADLINE_METRICS if m in values}, key=_metric_order)
    out = []
    for name in wanted:
        before, after = values.get(name + BEFORE), values.get(name + AFTER)
        if before is not None or after is not None:
            out.append((name, before, after))
        elif name in values:
            out.append((name, None, values[name]))
    return out


def subclass_changes(store: GraphStore, graph: str, node: str, run: str | None = None,
                     metrics: list[str] | None = None, kind: str = "edit") -> SubclassChanges:
    """One run's metrics on every subclass (any depth) of ``node``, in long form (style, metric, before, after,
    change), nearest styles first. ``run``: a run id; default the newest ``kind`` run that measured a subclass.
    ``metrics``: the names to show (default the headline ones, see :data:`HEADLINE_METRICS`)."""
    label, key = _resolve(store, graph, node)
    if run is None:
        heads = store.query(*store.cypher.latest_run_on_subclasses(label, key, kind))
        if not heads:
            return SubclassChanges(node, None, [])
        head = heads[0]
    else:
        found = store.query(*store.cypher.get_run(run))
        if not found:
            raise StoreError(f"no run {run!r} in {store.location}",
                             hint=f"drop --run for the newest {kind} run, or list runs with: "
                                  "stylekg query \"MATCH (r:Run) RETURN r.id, r.kind, r.created\"")
        head = found[0]
    values: dict[str, tuple[str, int, dict[str, float]]] = {}
    for row in store.query(*store.cypher.run_on_subclasses(label, key, head["id"])):
        values.setdefault(row["id"], (row["name"], int(row["depth"]), {}))[2][row["metric"]] = float(row["value"])
    rows = []
    for sid, (name, depth, measured) in values.items():
        for metric, before, after in long_form(measured, metrics):
            change = after - before if before is not None and after is not None else None
            rows.append(MetricChange(name, metric, before, after, change, sid, depth))
    run_head = {k: head.get(k) for k in ("id", "kind", "method", "created")}
    return SubclassChanges(node, run_head, rows)


def common_parents(store: GraphStore, graph: str, first: str, second: str) -> list[dict[str, Any]]:
    """Abstract styles that both ``first`` and ``second`` descend from (any depth): rows ``{id, name, depth_a,
    depth_b}`` (hops from each), nearest to both first."""
    label_a, key_a = _resolve(store, graph, first)
    label_b, key_b = _resolve(store, graph, second)
    return store.query(*store.cypher.common_parents(label_a, key_a, label_b, key_b))


def weak_neighbourhood_edits(store: GraphStore, threshold: float, metric: str = NEUTRAL_METRIC) -> list[dict[str, Any]]:
    """Edit runs whose neighbourhood score (unrelated prompts kept intact) on some node is below ``threshold``:
    rows ``{run, graph, method, created, id, name, edge, value}``, weakest first."""
    return store.query(*store.cypher.weak_edits(threshold, metric))


NAMED_QUERIES = {
    "subclass-effects": subclass_changes,
    "last-edit-effects": last_edit_effects,
    "shared-parent": shared_parent_styles,
    "common-parents": common_parents,
    "weak-edits": weak_neighbourhood_edits,
}
"""The named queries of ``stylekg query NAME`` (``subclass_effects``, the latest run per subclass pivoted into one
row each, stays for the run report)."""

__all__ = ["Effect", "HEADLINE_METRICS", "MetricChange", "NAMED_QUERIES", "SINGLE_HEADLINE_METRICS",
           "SubclassChanges", "common_parents", "last_edit_effects", "long_form", "shared_parent_styles",
           "subclass_changes", "subclass_effects", "weak_neighbourhood_edits"]
