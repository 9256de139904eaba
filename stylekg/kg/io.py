"""Style graph files: the format of a file from its suffix, reading and writing it, and merging graphs.

Formats: the stylekg JSON (lossless, :mod:`stylekg.kg.jsonform`), Turtle and JSON-LD (lossless,
:mod:`stylekg.kg.rdf`) and GraphML (export only). Writes are atomic, and :func:`import_into` merges atomically
(the target graph is left as it was on any error, conflicts are listed: :mod:`stylekg.kg.merge`).
:func:`read_patch` reads a patch for ``stylekg kg add``: a graph file or style records whose references to the
target graph need no stub nodes.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from ..errors import GraphError
from .graph import StyleGraph
from .jsonform import from_json, parts_from_dict, to_json
from .merge import MergePlan
from ..paths import atomic_write_text

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
        atomic_write_text(path, dumps(graph, fmt))  # a failed write leaves the old file
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


def import_into(graph: StyleGraph, other: StyleGraph, *, on_conflict: str = "refuse",
                dry_run: bool = False) -> MergePlan:
    """Merge ``other`` into ``graph`` atomically, then re-validate (see :mod:`stylekg.kg.merge`); returns the
    plan, which unpacks as ``(added node ids, added edge ids)``. On a conflict or an invalid result (a cycle,
    a marker with two neutral forms) the graph is left exactly as it was."""
    return graph.merge(other, on_conflict=on_conflict, dry_run=dry_run)


def read_patch(path: Path, target: StyleGraph) -> StyleGraph:
    """A patch file as a graph ready to merge into ``target`` (``stylekg kg add``); nothing needs stub nodes.

    The file is either a stylekg graph file whose edges may name nodes of ``target`` by id or name (those nodes
    are copied in, so they match on merge), or a style record, a list of records or ``{"styles": [...]}`` in
    the library's shape (:mod:`stylekg.kg.library.records`) whose parents name abstract styles of ``target`` or
    of the patch. Names that are unknown or ambiguous raise, suggesting ids.
    """
    path = Path(path)
    if not path.is_file():
        raise GraphError(f"no patch file at {path}")
    if format_of(path) != "json":
        raise GraphError(f"{path.name}: a patch is a JSON file", hint="write a stylekg graph file or style records")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GraphError(f"{path.name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict) and "format" in data:
        return _graph_patch(data, path.name, target)
    records = data.get("styles") if isinstance(data, dict) and "styles" in data else data
    records = records if isinstance(records, list) else [records]
    return _record_patch(records, path.name, target)


def _graph_patch(data: dict, source: str, target: StyleGraph) -> StyleGraph:
    from .graph import EDGE_RULES

    patch, nodes, edges = parts_from_dict(data, source)
    try:
        patch.add_all(nodes)
        for edge in edges:
            for end, types in zip((edge.source, edge.target), EDGE_RULES[edge.type]):
                if end in patch or patch.named(end, types):
                    continue  # the patch's own node (an ambiguous name raises in add_edge)
                if end not in target and not target.named(end, types):
                    raise GraphError(f"edge {edge.id!r} points to missing node {end!r} "
                                     f"(neither in {source} nor in graph {target.name!r})",
                                     hint=target.suggest(end, types))
                patch.add_node(target.node(target.resolve(end, types, what=f"edge {edge.id!r} end")))
            patch.add_edge(edge)
    except GraphError as exc:
        raise GraphError(f"{source}: {exc.args[0]}", hint=exc.hint) from None
    return patch


def _record_patch(records: list, source: str, target: StyleGraph) -> StyleGraph:
    from .library.records import PLAIN_TRAIT_ID, link_neutral, record_to_graph_parts
    from .schema import NodeType, Provenance, node_id

    provenance = Provenance("user", source)
    parents = {n.name.lower(): n.id for n in target.nodes(NodeType.ABSTRACT_STYLE)}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not str(rec.get("name", "")).strip():
            raise GraphError(f"{source}: record {i} is not a style record with a name",
                             hint="see docs/style-graphs.md for the record layout")
        if rec.get("type") == NodeType.ABSTRACT_STYLE.value:
            parents.setdefault(str(rec["name"]).strip().lower(), node_id(NodeType.ABSTRACT_STYLE, rec["name"]))
    patch = StyleGraph(source)
    nodes, edges = [], []
    for i, rec in enumerate(records):
        n, e = record_to_graph_parts(rec, provenance, parent_ids=parents, where=f"{source} record {i}")
        nodes += n
        edges += e
    edges += link_neutral(nodes, edges, PLAIN_TRAIT_ID in target, provenance)
    for end in {e.target for e in edges} | {e.source for e in edges}:
        if end in target and all(n.id != end for n in nodes):
            nodes.append(target.node(end))
    patch.add_all(nodes, edges)
    return patch
