"""Store rows ↔ graph objects: the one encoding both stores use, and reading a stored graph back.

A stored node or edge is a flat row (dict properties as JSON text, the graph name in ``graph``, the store-wide
unique ``key`` = ``"<id>@<graph>"``). Reading rows back checks every value, so that a row another client wrote
(a Neo4j shared with other tools, a ``--write`` query) gives one clear :class:`StoreError` naming the row, never
a ``TypeError`` from deep inside.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from ...errors import GraphError, StoreError
from ..graph import StyleGraph
from ..schema import Edge, EdgeType, Node, NodeType, Provenance

Read = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
"""Runs one statement and returns its rows (a store's read, or a statement inside an open transaction)."""


def node_key(graph: str, node_id: str) -> str:
    """The store-wide unique key of a node or edge (ids never contain ``@``: they are typed slugs)."""
    return f"{node_id}@{graph}"


def dumps(value: dict[str, Any], what: str = "a value") -> str:
    """Dict properties are stored as JSON strings (both stores, one encoding); NaN and infinity are refused (JSON
    has no such numbers, and a stored ``NaN`` would make ``query --json`` print invalid JSON)."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise StoreError(f"{what} holds a number that is not finite (NaN or infinity)",
                         hint="replace it with a finite number, or leave the field out") from None


def finite(value: Any, what: str) -> float:
    """``value`` as a finite float, else :class:`StoreError` naming ``what`` (every save checks every number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StoreError(f"{what} is not a finite number: {value!r}", hint="give it a finite number (1.0 unless it "
                                                                            "says more)")
    return float(value)


def loads(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def node_row(graph: str, node: Node) -> dict[str, Any]:
    return {
        "key": node_key(graph, node.id),
        "id": node.id,
        "graph": graph,
        "type": node.type.value,
        "name": str(node.name),
        "description": str(node.description),
        "properties": dumps(node.properties, f"the properties of node {node.id!r}"),
        "annotations": dumps(node.annotations, f"the annotations of node {node.id!r}"),
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
        "weight": finite(edge.weight, f"the weight of edge {edge.id!r}"),  # raises here, mid-transaction
        "properties": dumps(edge.properties, f"the properties of edge {edge.id!r}"),
        "annotations": dumps(edge.annotations, f"the annotations of edge {edge.id!r}"),
        "prov_source": str(edge.provenance.source),
        "prov_detail": str(edge.provenance.detail),
    }


def _json(row: dict[str, Any], field: str, what: str) -> dict[str, Any]:
    try:
        value = loads(row.get(field))
    except (TypeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{what} has {field} that are not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StoreError(f"{what} has {field} that are not a JSON object")
    return value


def _text(row: dict[str, Any], field: str, what: str, *, required: bool = False) -> str:
    value = row.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise StoreError(f"{what} has no {field}" if value in (None, "") else f"{what} has a {field} that is not text")
    return value


def node_from_row(row: dict[str, Any]) -> Node:
    """A stored node; :class:`StoreError` naming it when a value is missing or of the wrong type."""
    what = f"node {row.get('id')!r}"
    try:
        node_type = NodeType(row.get("type"))
    except ValueError:
        raise StoreError(f"{what} has an unknown type {row.get('type')!r}") from None
    return Node(
        type=node_type,
        name=_text(row, "name", what, required=True),
        description=_text(row, "description", what),
        properties=_json(row, "properties", what),
        provenance=Provenance(_text(row, "prov_source", what) or "user", _text(row, "prov_detail", what)),
        annotations=_json(row, "annotations", what),
        id=_text(row, "id", what, required=True),
    )


def edge_from_row(row: dict[str, Any]) -> Edge:
    """A stored edge; :class:`StoreError` naming it when a value is missing or of the wrong type."""
    what = f"{row.get('type')} edge {row.get('id')!r}"
    weight = row.get("weight")
    if weight is None:
        raise StoreError(f"{what} has no weight", hint="every edge needs a numeric weight (1.0 unless it says more)")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise StoreError(f"{what} has a weight that is not a finite number: {weight!r}")
    return Edge(
        type=EdgeType(row["type"]),
        source=_text(row, "source", what, required=True),
        target=_text(row, "target", what, required=True),
        relation=_text(row, "relation", what),
        template=_text(row, "template", what),
        weight=float(weight),
        properties=_json(row, "properties", what),
        provenance=Provenance(_text(row, "prov_source", what) or "user", _text(row, "prov_detail", what)),
        annotations=_json(row, "annotations", what),
        id=_text(row, "id", what, required=True),
    )


def build_graph(read: Read, cypher: Any, name: str, head: dict[str, Any], *, strict: bool = False) -> StyleGraph:
    """The stored graph ``name`` (``head``: its ``Graph`` row), checked like a graph built in memory: every
    value, every edge's end types and the acyclic hierarchy; ``strict`` adds :meth:`StyleGraph.validate`'s
    whole-graph rules (what a write must not break; a plain load stays readable when a newer rule flags an
    older graph). Raises :class:`StoreError` naming what is broken."""
    try:
        graph = StyleGraph(name=name, description=head.get("description") or "",
                           properties=_json(head, "properties", f"graph {name!r}"))
        nodes = [node_from_row(r) for label in NodeType for r in read(*cypher.graph_nodes(label, name))]
        edges = [edge_from_row(r) for et in EdgeType for r in read(*cypher.graph_edges(et, name))]
        graph.add_all(nodes, edges)
        if strict:
            graph.validate()
    except (StoreError, GraphError) as exc:
        raise StoreError(f"stored graph {name!r} is broken: {exc.args[0] if exc.args else exc}",
                         hint="repair it with `stylekg query --write`, or save a good copy over it with "
                              "`stylekg kg save FILE --graph NAME --replace`") from None
    return graph
