"""The graph-store interface shared by the embedded LadybugDB store and the Neo4j store.

Both stores hold the same schema, so the same Cypher returns the same rows on both:

* one node label per :class:`~stylekg.kg.schema.NodeType` (``Style``, ``AbstractStyle``, ...), properties
  ``key`` (unique: ``"<node id>@<graph>"``), ``id``, ``graph``, ``type``, ``name``, ``description``,
  ``properties`` and ``annotations`` (JSON strings), ``prov_source``, ``prov_detail``;
* one relationship type per :class:`~stylekg.kg.schema.EdgeType` with ``key``, ``id``, ``graph``,
  ``relation``, ``template``, ``weight``, ``properties``, ``annotations``, ``prov_source``, ``prov_detail``;
* ``Graph {name, description, properties, updated}`` (its node and edge counts are derived, never stored);
* ``Run {id, kind, method, model, graph, hparams_hash, created, version, status, params}`` linked to what it
  touched by ``TOUCHED {role, edge, graph}`` and to each measured node by ``MEASURED {name, value, role, edge}``
  (an edge target is linked through its source node, with the edge id in ``edge``);
* ``StyleKGMeta {name, value}`` holding the schema version.

Labels and types come only from the closed enums here and in the schema; values are always ``$parameters``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import Enum
from types import ModuleType
from typing import Any

from ...errors import StoreError
from ..graph import StyleGraph
from ..schema import Edge, EdgeType, NodeType, RunRecord, TargetMetrics
from .integrity import MERGE_HINT, new_problems, refuse, store_problems
from .readonly import StatementKind, reject_kind, reject_unsafe
from .rows import build_graph, dumps, edge_from_row, edge_row, loads, node_from_row, node_key, node_row

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # v2: Graph node/edge counts are derived, no longer stored
MAX_DEPTH = 30  # upper bound of variable-length SUBCLASS_OF walks (LadybugDB needs one)
BATCH = 2000  # rows per UNWIND statement
NEUTRAL_METRIC = "neighbourhood"

__all__ = [
    "BATCH", "MAX_DEPTH", "NEUTRAL_METRIC", "SCHEMA_VERSION", "GraphStore", "SaveReport", "StoreLabel", "StoreRel",
    "Tx", "chunks", "chunks_of", "dumps", "edge_from_row", "edge_row", "loads", "node_from_row", "node_key",
    "node_row", "now_iso",
]


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


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def chunks(rows: list[dict[str, Any]], size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    size = size or BATCH
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def chunks_of(items: list[str], size: int | None = None) -> Iterator[list[str]]:
    size = size or BATCH
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class SaveReport:
    """What :meth:`GraphStore.save_graph` did to the stored graph ``graph`` (``nodes``/``edges``: its size after).

    An upsert only creates and updates; ``deleted_*`` (ids) are filled only by ``replace``, with
    ``lost_run_links``: the links of earlier runs (``TOUCHED``/``MEASURED``) that went with the deleted nodes."""

    graph: str
    nodes: int
    edges: int
    created_nodes: int = 0
    updated_nodes: int = 0
    created_edges: int = 0
    updated_edges: int = 0
    deleted_nodes: list[str] = field(default_factory=list)
    deleted_edges: list[str] = field(default_factory=list)
    lost_run_links: int = 0
    replace: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _DryRun(Exception):
    """Raised inside a dry-run save so that its transaction rolls back; carries the report."""

    def __init__(self, report: SaveReport) -> None:
        super().__init__("dry run")
        self.report = report


class GraphStore(ABC):
    """A graph database holding style graphs and the runs written back to them.

    Stores are context managers; whoever opens one closes it. Every write runs in one transaction: if it
    fails half-way the store is left exactly as it was and a :class:`StoreError` is raised. A store opened
    ``read_only`` refuses every write before it reaches the database.
    """

    cypher: ModuleType  # the store's Cypher module (same builder names on both stores)
    location: str  # where the data lives, for messages
    read_only: bool = False

    # ---- what each store implements -----------------------------------------------------
    @abstractmethod
    def _write(self, work: Callable[[Tx], Any]) -> Any:
        """Run ``work(tx)`` in one write transaction; commit on success, roll back on any error."""

    @abstractmethod
    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one read-only statement."""

    @abstractmethod
    def _read_user(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a user's statement (already checked by :func:`~.readonly.reject_unsafe`) so that it cannot write;
        rows as plain dicts."""

    @abstractmethod
    def _statement_kind(self, cypher: str, params: dict[str, Any], write: bool) -> tuple[StatementKind, str]:
        """How the database itself reads a user's statement (planned with ``EXPLAIN``, never run) and what makes
        it so (plan operators or query type), for :func:`~.readonly.reject_kind`."""

    @abstractmethod
    def _plain_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows of a user's statement as plain dicts (graph objects as properties plus ``_label``)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (idempotent)."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # ---- user Cypher ---------------------------------------------------------------------
    def query(self, cypher: str, params: dict[str, Any] | None = None, write: bool = False) -> list[dict[str, Any]]:
        """Run user Cypher with ``$parameters``; rows as plain dicts.

        Read-only unless ``write``: the statement is checked (:mod:`.readonly`: no writes, files, settings or
        procedures outside a short allow-list), then planned by the database, whose reading of it must be a read,
        and run so that the database itself cannot write. With ``write`` the database's reading must be a read or
        a data change (never DDL, extensions or settings), and it runs in one transaction that is validated before
        it commits (:mod:`.integrity`): a statement that breaks a graph (an ``AbstractStyle → Style``
        ``SUBCLASS_OF``, a cycle, an edge without a weight, a value that is not finite) or changes stylekg's own
        metadata (the schema version) is rolled back with a :class:`StoreError` naming what it broke."""
        params = dict(params or {})
        reject_unsafe(cypher, write=write)
        reject_kind(*self._statement_kind(cypher, params, write), write=write)
        if not write:
            return self._read_user(cypher, params)

        def work(tx: Tx) -> list[dict[str, Any]]:
            before = store_problems(tx, self.cypher)
            meta = tx(*self.cypher.list_meta())
            rows = tx(cypher, params)
            broken = new_problems(before, store_problems(tx, self.cypher))
            if broken:
                refuse("the --write query", broken)
            if tx(*self.cypher.list_meta()) != meta:
                refuse("the --write query", [f"it changed stylekg's own metadata ({StoreLabel.META.value}: the "
                                             "schema version)"], hint="stylekg keeps StyleKGMeta itself; change "
                                                                      "graphs, nodes, edges and runs only")
            return rows

        return self._plain_rows(self._guard("running a --write query", work))

    # ---- graphs --------------------------------------------------------------------------
    def save_graph(self, graph: StyleGraph, *, name: str | None = None, replace: bool = False,
                   dry_run: bool = False) -> SaveReport:
        """Save ``graph`` as the stored graph ``name`` (default: ``graph.name``) and say what changed.

        By default an upsert: new nodes and edges are created, changed ones updated in place (so the links of
        earlier runs stay), and nothing is ever deleted: nodes another source added (an LLM decomposition, a
        merged file) and everything a run measured survive. The merged result must still be a valid graph,
        else nothing is written. With ``replace`` the stored graph becomes exactly ``graph``: nodes and edges
        missing from it are deleted (with the links of runs to them) and listed in the report. With ``dry_run``
        the report is computed and the transaction rolled back."""
        cy, target = self.cypher, name or graph.name
        if not target or not target.strip():
            raise StoreError("a stored graph needs a name", hint="pass one, e.g. --graph my-styles")
        nodes = sorted(graph.nodes(), key=lambda n: n.id)
        edges = sorted(graph.edges(), key=lambda e: e.id)
        types = {n.id: n.type for n in nodes}

        def work(tx: Tx) -> SaveReport:
            head = tx(*cy.get_graph(target))
            merging = bool(head) and not replace
            report = SaveReport(target, 0, 0, replace=replace, dry_run=dry_run)
            # 1. compare with what is stored (reads only): what to create, update, and (replace) delete
            node_plan: dict[NodeType, tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]] = {}
            for label in NodeType:
                stored = {r["key"]: r for r in tx(*cy.node_keys(label, target))}
                rows = [node_row(target, n) for n in nodes if n.type is label]
                new = [r for r in rows if r["key"] not in stored]
                old = [r for r in rows if r["key"] in stored and stored[r["key"]] != r]  # unchanged rows: no write
                gone = sorted(set(stored) - {r["key"] for r in rows})
                node_plan[label] = (new, old, gone)
                report.created_nodes += len(new)
                report.updated_nodes += len(old)
                report.nodes += len(rows) + (0 if replace else len(gone))
                if replace:
                    report.deleted_nodes += [stored[k]["id"] for k in gone]
            edge_plan: list[tuple[EdgeType, NodeType, NodeType, list[dict[str, Any]], list[dict[str, Any]]]] = []
            edge_gone: dict[EdgeType, list[str]] = {}
            for etype in EdgeType:
                stored = {r["key"]: r for r in tx(*cy.edge_keys(etype, target))}
                by_ends: dict[tuple[NodeType, NodeType], list[Edge]] = defaultdict(list)
                for edge in edges:
                    if edge.type is etype:
                        by_ends[(types[edge.source], types[edge.target])].append(edge)
                wanted: set[str] = set()
                for (src, dst), group in by_ends.items():
                    rows = [edge_row(target, e) for e in group]  # a bad value raises here, mid-transaction
                    wanted |= {r["key"] for r in rows}
                    new = [r for r in rows if r["key"] not in stored]
                    old = [r for r in rows if r["key"] in stored and stored[r["key"]] != r]
                    edge_plan.append((etype, src, dst, new, old))
                    report.created_edges += len(new)
                    report.updated_edges += len(old)
                gone = sorted(set(stored) - wanted)
                report.edges += len(wanted) + (0 if replace else len(gone))
                if replace and gone:
                    edge_gone[etype] = gone
                    report.deleted_edges += [stored[k]["id"] for k in gone]
            changes = report.created_nodes + report.updated_nodes + report.created_edges + report.updated_edges
            check = merging and changes > 0  # a merge can break what each side alone kept valid (a cycle, say)
            before = store_problems(tx, cy, [target]) if check else {}  # what was broken already stays allowed
            # 2. write: the header, nodes, edges, then (replace) what goes, edges before their nodes
            description, properties = graph.description, dict(graph.properties)
            if merging:  # merge the header: keep what the incoming graph does not say
                properties = {**loads(head[0]["properties"]), **properties}
                description = description or head[0]["description"] or ""
            tx(*cy.upsert_graph(target, description, dumps(properties, f"the properties of graph {target!r}"),
                                now_iso()))
            for label, (new, old, _) in node_plan.items():
                for batch in chunks(new):
                    tx(*cy.create_nodes(label, batch))
                for batch in chunks(old):
                    tx(*cy.update_nodes(label, batch))
            for etype, src, dst, new, old in edge_plan:
                for build, part in ((cy.create_edges, new), (cy.update_edges, old)):
                    for batch in chunks(part):
                        got = tx(*build(etype, src, dst, batch))[0]["n"]
                        if got != len(batch):
                            raise StoreError(f"{etype.value} edges of graph {target!r}: {len(batch) - got} lost "
                                             "their endpoints (a node id is stored under another type?)")
            for etype, gone in edge_gone.items():
                for keys in chunks_of(gone):
                    tx(*cy.delete_edges_by_key(etype, keys))
            for label, (_, _, gone) in node_plan.items():
                for keys in chunks_of(gone if replace else []):
                    report.lost_run_links += int(tx(*cy.count_run_links(label, keys))[0]["n"])
                    tx(*cy.delete_nodes_by_key(label, keys))
            if check:
                broken = new_problems(before, store_problems(tx, cy, [target]))
                if broken:
                    refuse(f"merging into graph {target!r}", broken, MERGE_HINT)
            if dry_run:
                raise _DryRun(report)
            return report

        try:
            return self._guard(f"saving graph {target!r}", work)
        except _DryRun as done:
            return done.report

    def load_graph(self, name: str) -> StyleGraph:
        """The graph exactly as saved (nodes, edges, properties, provenance, annotations).

        A graph another client broke (an edge without a weight, a hierarchy edge between the wrong types, a
        cycle) gives one :class:`StoreError` naming the culprit."""
        head = self._read(*self.cypher.get_graph(name))
        if not head:
            known = ", ".join(g["name"] for g in self.list_graphs()) or "none"
            raise StoreError(f"no graph {name!r} in {self.location}", hint=f"stored graphs: {known}")
        return build_graph(self._read, self.cypher, name, head[0])

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
        """One row per stored graph: name, description, nodes, edges, runs, updated. The counts are derived from
        what is stored now (never kept on the ``Graph`` node, so they cannot go stale)."""
        rows = self._read(*self.cypher.list_graphs())
        nodes: dict[str, int] = defaultdict(int)
        edges: dict[str, int] = defaultdict(int)
        for label in NodeType:
            for r in self._read(*self.cypher.count_nodes(label)):
                nodes[r["graph"]] += int(r["n"])
        for etype in EdgeType:
            for r in self._read(*self.cypher.count_edges(etype)):
                edges[r["graph"]] += int(r["n"])
        return [{"name": r["name"], "description": r["description"], "nodes": nodes[r["name"]],
                 "edges": edges[r["name"]], "runs": r["runs"], "updated": r["updated"]} for r in rows]

    def walk_bound(self, graph: str) -> int:
        """A hop bound no ``SUBCLASS_OF`` walk in ``graph`` can exceed: its number of ``SUBCLASS_OF`` edges (the
        hierarchy is acyclic, so a walk uses each edge at most once). Named queries pass it instead of a fixed
        :data:`MAX_DEPTH`, so "any depth" holds however deep the hierarchy is."""
        bound = max([1, *(int(r["n"]) for r in self._read(*self.cypher.count_edges(EdgeType.SUBCLASS_OF))
                          if r["graph"] == graph)])
        self._allow_walks(bound)
        return bound

    def _allow_walks(self, hops: int) -> None:
        """Let variable-length walks of up to ``hops`` run (a store whose database caps them raises its cap)."""

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
                             hint=f"save it first: stylekg kg save FILE --graph {run.graph}")
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
        if self.read_only:
            raise StoreError(f"{what}: {self.location} was opened read-only",
                             hint="run a command that writes (kg save, query --write) to change the store")
        try:
            return self._write(work)
        except StoreError as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise StoreError(f"{what} in {self.location} failed, nothing was written: {message}", hint=exc.hint) from exc
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
