"""The lossless form of a style graph: plain dicts and the stylekg JSON text (``format: "stylekg-graph"``).

Layout (``version: 1``)::

    {"format": "stylekg-graph", "version": 1, "name": "...", "description": "...", "properties": {},
     "nodes": [{"id", "type", "name", "description", "properties", "provenance": {"source", "detail"},
                "annotations"}],
     "edges": [{"id", "type", "source", "target", "relation", "template", "weight", "properties",
                "provenance", "annotations"}]}

Ids are optional when writing a file by hand (a node gets ``Type:slug(name)``, an edge
``TYPE[relation]:source->target``), and edges may name their ends by name; ``docs/style-graphs.md`` has a
minimal example.

Every other format goes through this one: :mod:`stylekg.kg.rdf` rebuilds graphs with :func:`from_dict`, and
:mod:`stylekg.kg.io` picks the format of a file. Reading never half-builds a graph: errors name the JSON line
or the offending node/edge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import GraphError
from .graph import StyleGraph
from .schema import Edge, EdgeType, Node, NodeType, Provenance

FORMAT = "stylekg-graph"
VERSION = 1
MAX_DEPTH = 64  # nesting of objects and lists a graph file may have (its own layout needs 4, properties a few more)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text (strings skipped), found without parsing it: deep input
    is refused before ``json.loads`` or a recursive walk meets it (Python's recursion limit is ~1,000)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest

T = TypeVar("T", Node, Edge)


def node_to_dict(node: Node) -> dict[str, Any]:
    return {"id": node.id, "type": node.type.value, "name": node.name, "description": node.description,
            "properties": node.properties, "provenance": _prov(node.provenance), "annotations": node.annotations}


def edge_to_dict(edge: Edge) -> dict[str, Any]:
    return {"id": edge.id, "type": edge.type.value, "source": edge.source, "target": edge.target,
            "relation": edge.relation, "template": edge.template, "weight": edge.weight,
            "properties": edge.properties, "provenance": _prov(edge.provenance), "annotations": edge.annotations}


def _prov(p: Provenance) -> dict[str, str]:
    return {"source": p.source, "detail": p.detail}


def to_dict(graph: StyleGraph) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "name": graph.name, "description": graph.description,
            "properties": graph.properties, "nodes": [node_to_dict(n) for n in graph.nodes()],
            "edges": [edge_to_dict(e) for e in graph.edges()]}


def to_json(graph: StyleGraph) -> str:
    return json.dumps(to_dict(graph), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _object(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise GraphError(f"{where}: expected an object, got {type(d).__name__}")
    return d


def _build(label: str, noun: str, types: type[NodeType] | type[EdgeType], d: dict[str, Any],
           build: Callable[[Any], T]) -> T:
    """``build(type)`` for the dict ``d`` whose ``type`` must be one of ``types``; every failure names ``label``."""
    try:
        kind = types(d.get("type"))
    except ValueError:
        raise GraphError(f"{label}: unknown {noun} type {d.get('type')!r}",
                         hint=f"use one of {', '.join(t.value for t in types)}") from None
    try:
        return build(kind)
    except KeyError as exc:
        raise GraphError(f"{label}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise GraphError(f"{label}: {exc}") from None


def node_from_dict(d: dict[str, Any], where: str) -> Node:
    d = _object(d, where)
    return _build(f"{where} ({d.get('id') or d.get('name')!r})", "node", NodeType, d, lambda ntype: Node(
        ntype, d["name"], d.get("description", ""), dict(d.get("properties") or {}),
        Provenance(**(d.get("provenance") or {})), dict(d.get("annotations") or {}), d.get("id", "")))


def edge_from_dict(d: dict[str, Any], where: str) -> Edge:
    d = _object(d, where)
    return _build(f"{where} ({d.get('id')!r})", "edge", EdgeType, d, lambda etype: Edge(
        etype, d["source"], d["target"], d.get("relation", ""), d.get("template", ""), float(d.get("weight", 1.0)),
        dict(d.get("properties") or {}), Provenance(**(d.get("provenance") or {})), dict(d.get("annotations") or {}),
        d.get("id", "")))


def parts_from_dict(data: Any, source: str = "graph") -> tuple[StyleGraph, list[Node], list[Edge]]:
    """An empty graph carrying the file's name, description and properties, and the file's nodes and edges
    (each checked alone; the ends of the edges are not looked up: see :func:`from_dict`)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GraphError(f"{source} is not a stylekg graph file (no \"format\": \"{FORMAT}\")",
                         hint="export one with `stylekg kg show NAME --format json`; "
                              "docs/style-graphs.md shows the layout")
    if data.get("version") != VERSION:
        raise GraphError(f"{source}: unsupported version {data.get('version')!r} (this stylekg reads {VERSION})")
    graph = StyleGraph(str(data.get("name") or "graph"), str(data.get("description", "")), dict(data.get("properties") or {}))
    for key in ("nodes", "edges"):
        if not isinstance(data.get(key, []), list):
            raise GraphError(f"{source}: {key!r} must be a list, got {type(data[key]).__name__}")
    nodes = [node_from_dict(d, f"{source}: nodes[{i}]") for i, d in enumerate(data.get("nodes", []))]
    edges = [edge_from_dict(d, f"{source}: edges[{i}]") for i, d in enumerate(data.get("edges", []))]
    seen: dict[str, str] = {}
    for n in nodes:
        if n.id in seen and seen[n.id] != n.type.value:
            raise GraphError(f"{source}: node {n.id!r} appears twice with types {seen[n.id]} and {n.type.value}")
        seen[n.id] = n.type.value
    return graph, nodes, edges


def from_dict(data: Any, source: str = "graph") -> StyleGraph:
    """A validated graph from the JSON layout; raises naming the node/edge index and id.

    Node ids are optional (``Type:slug(name)`` is made from the name), and an edge may name its ends by id or
    by a name unique among the node types its edge type allows (see :meth:`StyleGraph.add_edge`).
    """
    graph, nodes, edges = parts_from_dict(data, source)
    try:
        graph.add_all(nodes, edges)
    except GraphError as exc:
        raise GraphError(f"{source}: {exc.args[0]}", hint=exc.hint) from None
    graph.validate()
    return graph


def from_json(text: str, source: str = "graph") -> StyleGraph:
    if (depth := json_depth(text)) > MAX_DEPTH:
        raise GraphError(f"{source}: JSON nested {depth} levels deep, more than the {MAX_DEPTH} a graph file may have",
                         hint="flatten the deep property values (a graph's own layout needs 4 levels)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return from_dict(data, source)
