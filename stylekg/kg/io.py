"""Style graph files: the stylekg JSON format (lossless), GraphML export, and format dispatch.

JSON layout (``format: "stylekg-graph"``, ``version: 1``)::

    {"format": "stylekg-graph", "version": 1, "name": "...", "description": "...", "properties": {},
     "nodes": [{"id", "type", "name", "description", "properties", "provenance": {"source", "detail"},
                "annotations"}],
     "edges": [{"id", "type", "source", "target", "relation", "template", "weight", "properties",
                "provenance", "annotations"}]}

Reading never half-builds a graph: errors name the JSON line or the offending node/edge, and
:func:`import_into` merges atomically (the target graph is left as it was on any error).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx

from ..errors import GraphError
from .graph import StyleGraph
from .schema import Edge, EdgeType, Node, NodeType, Provenance

FORMAT = "stylekg-graph"
VERSION = 1
SUFFIX_FORMATS = {".json": "json", ".ttl": "turtle", ".turtle": "turtle", ".jsonld": "jsonld", ".graphml": "graphml"}


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
    return json.dumps(to_dict(graph), indent=2, ensure_ascii=False) + "\n"


def node_from_dict(d: dict[str, Any], where: str) -> Node:
    if not isinstance(d, dict):
        raise GraphError(f"{where}: expected an object, got {type(d).__name__}")
    label = f"{where} ({d.get('id') or d.get('name')!r})"
    try:
        ntype = NodeType(d.get("type"))
    except ValueError:
        raise GraphError(f"{label}: unknown node type {d.get('type')!r}",
                         hint=f"use one of {', '.join(t.value for t in NodeType)}") from None
    try:
        return Node(ntype, d["name"], d.get("description", ""), dict(d.get("properties") or {}),
                    Provenance(**(d.get("provenance") or {})), dict(d.get("annotations") or {}), d.get("id", ""))
    except KeyError as exc:
        raise GraphError(f"{label}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise GraphError(f"{label}: {exc}") from None


def edge_from_dict(d: dict[str, Any], where: str) -> Edge:
    if not isinstance(d, dict):
        raise GraphError(f"{where}: expected an object, got {type(d).__name__}")
    label = f"{where} ({d.get('id')!r})"
    try:
        etype = EdgeType(d.get("type"))
    except ValueError:
        raise GraphError(f"{label}: unknown edge type {d.get('type')!r}",
                         hint=f"use one of {', '.join(t.value for t in EdgeType)}") from None
    try:
        return Edge(etype, d["source"], d["target"], d.get("relation", ""), d.get("template", ""),
                    float(d.get("weight", 1.0)), dict(d.get("properties") or {}),
                    Provenance(**(d.get("provenance") or {})), dict(d.get("annotations") or {}), d.get("id", ""))
    except KeyError as exc:
        raise GraphError(f"{label}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise GraphError(f"{label}: {exc}") from None


def from_dict(data: Any, source: str = "graph") -> StyleGraph:
    """A validated graph from the JSON layout; raises naming the node/edge index and id."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GraphError(f"{source} is not a stylekg graph file (no \"format\": \"{FORMAT}\")",
                         hint="export one with `stylekg kg show NAME --format json`")
    if data.get("version") != VERSION:
        raise GraphError(f"{source}: unsupported version {data.get('version')!r} (this stylekg reads {VERSION})")
    graph = StyleGraph(str(data.get("name") or "graph"), str(data.get("description", "")), dict(data.get("properties") or {}))
    nodes = [node_from_dict(d, f"{source}: nodes[{i}]") for i, d in enumerate(data.get("nodes", []))]
    edges = [edge_from_dict(d, f"{source}: edges[{i}]") for i, d in enumerate(data.get("edges", []))]
    seen: dict[str, str] = {}
    for n in nodes:
        if n.id in seen and seen[n.id] != n.type.value:
            raise GraphError(f"{source}: node {n.id!r} appears twice with types {seen[n.id]} and {n.type.value}")
        seen[n.id] = n.type.value
    graph.add_all(nodes, edges)
    graph.validate()
    return graph


def from_json(text: str, source: str = "graph") -> StyleGraph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return from_dict(data, source)


def to_graphml(graph: StyleGraph, path: Path) -> None:
    """GraphML for Gephi/yEd/Cytoscape: scalar attributes, dicts as JSON strings (export only)."""
    g = nx.MultiDiGraph(name=graph.name)
    for n in graph.nodes():
        g.add_node(n.id, type=n.type.value, name=n.name, description=n.description,
                   properties=json.dumps(n.properties), provenance=f"{n.provenance.source}:{n.provenance.detail}",
                   annotations=json.dumps(n.annotations))
    for e in graph.edges():
        g.add_edge(e.source, e.target, key=e.id, id=e.id, type=e.type.value, relation=e.relation,
                   template=e.template, weight=e.weight, properties=json.dumps(e.properties),
                   provenance=f"{e.provenance.source}:{e.provenance.detail}", annotations=json.dumps(e.annotations))
    nx.write_graphml(g, str(path))


def format_of(path: Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    try:
        return SUFFIX_FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise GraphError(f"cannot tell the format of {path} from its suffix",
                         hint=f"use one of {', '.join(SUFFIX_FORMATS)} or pass --format") from None


def dumps(graph: StyleGraph, fmt: str) -> str:
    """The graph as text in ``json``, ``turtle`` or ``jsonld``."""
    if fmt == "json":
        return to_json(graph)
    if fmt in ("turtle", "jsonld"):
        from .rdf import serialize

        return serialize(graph, fmt)
    raise GraphError(f"unknown text format {fmt!r}", hint="use json, turtle or jsonld")


def save_graph(graph: StyleGraph, path: Path, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = format_of(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "graphml":
        to_graphml(graph, path)
    else:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(dumps(graph, fmt), encoding="utf-8")
        tmp.replace(path)  # atomic: a failed write leaves the old file
    return path


def load_graph(path: Path, fmt: str | None = None) -> StyleGraph:
    path = Path(path)
    if not path.is_file():
        raise GraphError(f"no graph file at {path}")
    fmt = format_of(path, fmt)
    text = path.read_text(encoding="utf-8")
    if fmt == "json":
        return from_json(text, path.name)
    if fmt in ("turtle", "jsonld"):
        from .rdf import parse

        return parse(text, fmt, source=path.name)
    raise GraphError(f"{path.name}: reading {fmt} is not supported", hint="import json, turtle or jsonld")


def import_into(graph: StyleGraph, other: StyleGraph) -> tuple[list[str], list[str]]:
    """Merge ``other`` into ``graph`` atomically, then re-validate; returns the added node/edge ids."""
    backup = graph.copy()
    added = graph.merge(other)
    try:
        graph.validate()
    except GraphError:
        graph._g = backup.nx  # restore exactly; graph stays as it was
        graph._version += 1
        raise
    return added
