"""Style graph files: the format of a file from its suffix, reading and writing it, and merging graphs.

Formats: the stylekg JSON (lossless, :mod:`stylekg.kg.jsonform`), Turtle and JSON-LD (lossless,
:mod:`stylekg.kg.rdf`) and GraphML (export only). Writes are atomic, and :func:`import_into` merges atomically
(the target graph is left as it was on any error).
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from ..errors import GraphError
from .graph import StyleGraph
from .jsonform import from_json, to_json

SUFFIX_FORMATS = {".json": "json", ".ttl": "turtle", ".turtle": "turtle", ".jsonld": "jsonld", ".graphml": "graphml"}


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
        from .rdf import serialize  # rdflib loads only when RDF is asked for

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
