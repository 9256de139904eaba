"""The graph-store interface shared by the embedded LadybugDB store and the Neo4j store.

Both stores hold the same schema, so the same Cypher returns the same rows on both:

* one node label per :class:`~stylekg.kg.schema.NodeType` (``Style``, ``AbstractStyle``, ...), properties
  ``key`` (unique: ``"<node id>@<graph>"``), ``id``, ``graph``, ``type``, ``name``, ``description``,
  ``properties`` and ``annotations`` (JSON strings), ``prov_source``, ``prov_detail``;
* one relationship type per :class:`~stylekg.kg.schema.EdgeType` with ``key``, ``id``, ``graph``,
  ``relation``, ``template``, ``weight``, ``properties``, ``annotations``, ``prov_source``, ``prov_detail``;
* ``Graph {name, description, properties, node_count, edge_count, updated}``;
* ``Run {id, kind, method, model, graph, hparams_hash, created, version, status, params}`` linked to what it
  touched by ``TOUCHED {role, edge, graph}`` and to each measured node by ``MEASURED {name, value, role, edge}``
  (an edge target is linked through its source node, with the edge id in ``edge``);
* ``StyleKGMeta {name, value}`` holding the schema version.

Labels and types come only from the closed enums here and in the schema; values are always ``$parameters``.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from enum import Enum
from types import ModuleType
from typing import Any

from ...errors import StoreError
from ..graph import StyleGraph
from ..schema import Edge, EdgeType, Node, NodeType, Provenance, RunRecord, TargetMetrics

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_DEPTH = 30  # upper bound of variable-length SUBCLASS_OF walks (LadybugDB needs one)
BATCH = 2000  # rows per UNWIND statement
NEUTRAL_METRIC = "neighbourhood"


class StoreLabel(str, Enum):
    """Node labels the store adds to the style schema."""

    GRAPH = "Graph"
    RUN = "Run"
    META = "StyleKGMeta"


class StoreRel(str, Enum):
    """Relationship types the store adds (Run → node)."""

    TOUCHED = "TOUCHED"
    MEASURED = "MEASURED"


Tx = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
"""Runs one statement inside the open write transaction and returns its rows."""


def node_key(graph: str, node_id: str) -> str:
    """The store-wide unique key of a node (ids never contain ``@``: they are typed slugs)."""
    return f"{node_id}@{graph}"


def dumps(value: dict[str, Any]) -> str:
    """Dict properties are stored as JSON strings (both stores, one encoding)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def loads(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def node_row(graph: str, node: Node) -> dict[str, Any]:
    return {
        "key": node_key(graph, node.id),
        "id": node.id,
        "graph": graph,
        "type": node.type.value,
        "name": str(node.name),
        "description": str(node.description),
        "properties": dumps(node.properties),
        "annotations": dumps(node.annotations),
        "prov_source": str(node.provenance.source),
        "prov_detail": str(node.provenance.detail),
    }


def edge_row(graph: str, edge: Edge) -> dict[str, Any]:
    return {
        "key": node_key(graph, edge.id),
        "id": edge.id,
        "graph": graph,
        "src": node_key(graph, edge.source),
        "dst": node_key(graph, edge.target),
        "relation": str(edge.relation),
        "template": str(edge.template),
        "weight": float(edge.weight),  # a bad value raises here, mid-transaction
        "properties": dumps(edge.properties),
        "annotations": dumps(edge.annotations),
        "prov_source": str(edge.provenance.source),
        "prov_detail": str(edge.provenance.detail),
    }


def node_from_row(row: dict[str, Any]) -> Node:
    return Node(
        type=NodeType(row["type"]),
        name=row["name"],
        description=row["description"] or "",
        properties=loads(row["properties"]),
        provenance=Provenance(row["prov_source"] or "user", row["prov_detail"] or ""),
        annotations=loads(row["annotations"]),
        id=row["id"],
    )


def edge_from_row(row: dict[str, Any]) -> Edge:
    return Edge(
        type=EdgeType(row["type"]),
        source=row["source"],
        target=row["target"],
        relation=row["relation"] or "",
        template=row["template"] or "",
        weight=float(row["weight"]),
        properties=loads(row["properties"]),
        provenance=Provenance(row["prov_source"] or "user", row["prov_detail"] or ""),
        annotations=loads(row["annotations"]),
        id=row["id"],
    )


def chunks(rows: list[dict[str, Any]], size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    size = size or BATCH
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def chunks_of(items: list[str], size: int | None = None) -> Iterator[list[str]]:
    size = size or BATCH
    for start in range(0, len(items), size):
        yield items[start : start + size]


class GraphStore(ABC):
    """A graph database holding style graphs and the runs written back to them.

    Stores are context managers; whoever opens one closes it. Every write runs in one transaction: if it
    fails half-way the store is left exactly as it was and a :class:`StoreError` is raised.
    """

    cypher: ModuleType  # the store's Cypher module (same builder names on both stores)
    location: str  # where the data lives, for messages

    # ---- what each store implements -----------------------------------------------------
    @abstractmethod
    def _write(self, work: Callable[[Tx], Any]) -> Any:
        """Run ``work(tx)`` in one write transaction; commit on success, roll back on any error."""

    @abstractmethod
    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one read-only statement."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    @abstractmethod
    def query(self, cypher: str, params: dict[str, Any] | None = None, write: bool = False) -> list[dict[str, Any]]:
        """Run user Cypher with ``$parameters``; read-only unless ``write=True``. Rows as plain dicts."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # ---- graphs --------------------------------------------------------------------------
    def save_graph(self, graph: StyleGraph, *, prune: bool = True) -> dict[str, int]:
        """Upsert a graph (idempotent). With ``prune`` nodes/edges no longer in it are removed, so
        :meth:`load_graph` returns exactly ``graph``. Runs are never touched except links to pruned nodes."""
        cy, name = self.cypher, graph.name
        nodes = sorted(graph.nodes(), key=lambda n: n.id)
        edges = sorted(graph.edges(), key=lambda e: e.id)
        types = {n.id: n.type for n in nodes}

        def work(tx: Tx) -> dict[str, int]:
            tx(*cy.upsert_graph(name, graph.description, dumps(graph.properties), len(nodes), len(edges), now_iso()))
            for label in NodeType:
                group = [n for n in nodes if n.type is label]
                stored = {r["key"]: r for r in tx(*cy.node_keys(label, name))}
                rows = [node_row(name, n) for n in group]
                new = [r for r in rows if r["key"] not in stored]
                old = [r for r in rows if r["key"] in stored and stored[r["key"]] != r]  # unchanged rows: no write
                for batch in chunks(new):
                    tx(*cy.create_nodes(label, batch))
                for batch in chunks(old):
                    tx(*cy.update_nodes(label, batch))
                if prune:
                    gone = sorted(set(stored) - {r["key"] for r in rows})
                    for keys in chunks_of(gone):
                        tx(*cy.delete_nodes_by_key(label, keys))
            for etype in EdgeType:
                stored = {r["key"]: r for r in tx(*cy.edge_keys(etype, name))}
                by_ends: dict[tuple[NodeType, NodeType], list[Edge]] = defaultdict(list)
                for edge in edges:
                    if edge.type is etype:
                        by_ends[(types[edge.source], types[edge.target])].append(edge)
                for (src, dst), group in by_ends.items():
                    rows = [edge_row(name, e) for e in group]  # a bad value raises here, mid-transaction
                    for build, part in ((cy.create_edges, [r for r in rows if r["key"] not in stored]),
                                        (cy.update_edges, [r for r in rows if r["key"] in stored and stored[r["key"]] != r])):
                        for batch in chunks(part):
                            got = tx(*build(etype, src, dst, batch))[0]["n"]
                            if got != len(batch):
                                raise StoreError(f"{etype.value} edges of graph {name!r}: {len(batch) - got} lost their endpoints")
                if prune:
                    gone = sorted(set(stored) - {node_key(name, e.id) for e in edges if e.type is etype})
                    for keys in chunks_of(gone):
                        tx(*cy.delete_edges_by_key(etype, keys))
            return {"nodes": len(nodes), "edges": len(edges)}

        return self._guard(f"saving graph {name!r}", work)

    def load_graph(self, name: str) -> StyleGraph:
        """The graph exactly as saved (nodes, edges, properties, provenance, annotations)."""
        head = self._read(*self.cypher.get_graph(name))
        if not head:
            known = ", ".join(g["name"] for g in self.list_graphs()) or "none"
            raise StoreError(f"no graph {name!r} in {self.location}", hint=f"stored graphs: {known}")
        graph = StyleGraph(name=name, description=head[0]["description"] or "", properties=loads(head[0]["properties"]))
        nodes = [node_from_row(r) for label in NodeType for r in self._read(*self.cypher.graph_nodes(label, name))]
        edges = [edge_from_row(r) for et in EdgeType for r in self._read(*self.cypher.graph_edges(et, name))]
        graph.add_all(nodes, edges)
        return graph

    def load_subgraph(self, name: str, root: str, depth: int = 1) -> StyleGraph:
        """Nodes within ``depth`` hops of ``root`` (id or name, any edge direction) and the edges among them."""
        full = self.load_graph(name)
        start = full.find(root)
        keys = {r["key"] for r in self._read(*self.cypher.neighbourhood(node_key(name, start.id), int(depth)))}
        suffix = f"@{name}"
        keep = {start.id} | {k[: -len(suffix)] for k in keys if k.endswith(suffix)}
        sub = StyleGraph(name=name, description=full.description, properties=dict(full.properties))
        sub.add_all(
            [n for n in full.nodes() if n.id in keep],
            [e for e in full.edges() if e.source in keep and e.target in keep],
        )
        return sub

    def list_graphs(self) -> list[dict[str, Any]]:
        """One row per stored graph: name, description, nodes, edges, runs, updated."""
        return self._read(*self.cypher.list_graphs())

    def delete_graph(self, name: str) -> bool:
        """Delete a graph, its nodes and edges and its runs. Returns whether it existed."""
        if not self._read(*self.cypher.get_graph(name)):
            return False

        def work(tx: Tx) -> None:
            tx(*self.cypher.delete_runs(name))
            for label in NodeType:
                tx(*self.cypher.delete_nodes(label, name))
            tx(*self.cypher.delete_graph(name))

        self._guard(f"deleting graph {name!r}", work)
        return True

    # ---- runs ----------------------------------------------------------------------------
    def write_run(self, run: RunRecord) -> None:
        """Write a run as a new ``Run`` node linked to every node/edge it touched, with its metrics.

        Runs are never overwritten: writing an existing run id raises and changes nothing."""
        if not self._read(*self.cypher.get_graph(run.graph)):
            raise StoreError(f"run {run.id!r} refers to graph {run.graph!r}, which is not in {self.location}",
                             hint=f"save it first: stylekg kg save {run.graph}")
        cy, g = self.cypher, run.graph

        def work(tx: Tx) -> None:
            tx(*cy.create_run(_run_row(run)))
            keys = list(dict.fromkeys(node_key(g, t.target_id) for t in run.targets))
            found: dict[str, tuple[NodeType, str, str]] = {}  # target key → (label, node key, edge id)
            for label in NodeType:
                for batch in chunks_of(keys):
                    found.update((r["key"], (label, r["key"], "")) for r in tx(*cy.find_nodes(label, batch)))
            for etype in EdgeType:
                rest = [k for k in keys if k not in found]
                for batch in chunks_of(rest):
                    found.update((r["target"], (NodeType(r["type"]), r["key"], r["edge"]))
                                 for r in tx(*cy.find_edges(etype, batch)))
            missing = [t.target_id for t in run.targets if node_key(g, t.target_id) not in found]
            if missing:
                raise StoreError(f"run {run.id!r} touches {', '.join(map(repr, missing[:5]))}, "
                                 f"which graph {g!r} does not have")
            touched: dict[NodeType, list[dict[str, Any]]] = defaultdict(list)
            measured: dict[NodeType, list[dict[str, Any]]] = defaultdict(list)
            for pos, target in enumerate(run.targets):
                label, key, edge = found[node_key(g, target.target_id)]
                link = {"run": run.id, "key": key, "role": target.role, "edge": edge, "graph": g}
                touched[label].append({**link, "pos": pos})
                measured[label] += [{**link, "name": k, "value": float(v)} for k, v in sorted(target.metrics.items())]
            for label, rows in touched.items():
                for batch in chunks(rows):
                    tx(*cy.link_touched(label, batch))
            for label, rows in measured.items():
                for batch in chunks(rows):
                    tx(*cy.link_measured(label, batch))

        self._guard(f"writing run {run.id!r}", work)

    def runs(self, graph: str | None = None) -> list[RunRecord]:
        """Stored runs (newest first), optionally of one graph, with their per-target metrics."""
        heads = self._read(*self.cypher.list_runs(graph))
        return [self._run_from_head(h) for h in heads]

    def load_run(self, run_id: str) -> RunRecord:
        heads = self._read(*self.cypher.get_run(run_id))
        if not heads:
            raise StoreError(f"no run {run_id!r} in {self.location}", hint="list runs with: stylekg query 'MATCH (r:Run) RETURN r.id'")
        return self._run_from_head(heads[0])

    def _run_from_head(self, head: dict[str, Any]) -> RunRecord:
        targets: dict[str, TargetMetrics] = {}
        for row in self._read(*self.cypher.run_targets(head["id"])):
            tid = row["edge"] or row["id"]
            targets[tid] = TargetMetrics(target_id=tid, metrics={}, role=row["role"])
        for row in self._read(*self.cypher.run_metrics(head["id"])):
            tid = row["edge"] or row["id"]
            targets.setdefault(tid, TargetMetrics(tid, {}, row["role"])).metrics[row["name"]] = float(row["value"])
        return RunRecord(
            id=head["id"], kind=head["kind"], method=head["method"], model=head["model"], graph=head["graph"],
            hparams_hash=head["hparams_hash"] or "", created=head["created"] or "", version=head["version"] or "",
            status=head["status"] or "", params=loads(head["params"]), targets=list(targets.values()),
        )

    # ---- helpers -------------------------------------------------------------------------
    def _guard(self, what: str, work: Callable[[Tx], Any]) -> Any:
        try:
            return self._write(work)
        except StoreError as exc:
            raise StoreError(f"{what} in {self.location} failed, nothing was written: {exc}", hint=exc.hint) from exc
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{what} in {self.location} failed on a bad value, nothing was written: {exc}") from exc


def _run_row(run: RunRecord) -> dict[str, Any]:
    if not run.id:
        raise StoreError("a run needs an id")
    return {
        "id": run.id, "kind": run.kind, "method": run.method, "model": run.model, "graph": run.graph,
        "hparams_hash": run.hparams_hash, "created": run.created or now_iso(), "version": run.version,
        "status": run.status, "params": dumps(run.params),
    }
