"""RDF interchange (Turtle, JSON-LD) under the closed ``stylekg:`` vocabulary.

* every node is a resource typed with its class (``stylekg:Style``, ``stylekg:Trait`` …);
* the style hierarchy is ``rdfs:subClassOf`` between style resources, and the other edge types are
  direct properties (``stylekg:hasTrait``, ``stylekg:expressedBy``, ``stylekg:aliasOf``,
  ``stylekg:neutralForm``, ``stylekg:fact``) so SPARQL reads naturally;
* every edge is *also* a reified ``stylekg:Relationship`` carrying its id, type, relation, template,
  weight, provenance and annotations: the authoritative form on import, so a round trip loses nothing.

The namespace is an rdflib ``ClosedNamespace``: a misspelt term raises instead of minting a new IRI.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.namespace import ClosedNamespace

from ..errors import GraphError
from .graph import StyleGraph
from .jsonform import FORMAT, VERSION, from_dict
from .schema import EdgeType, NodeType

BASE = "https://stylekg.dev/"
NS_URI = BASE + "ns#"
STYLEKG = ClosedNamespace(
    URIRef(NS_URI),
    [t.value for t in NodeType] + [
        "StyleGraph", "Relationship",
        "nodeId", "name", "description", "properties", "annotations", "provenanceSource", "provenanceDetail",
        "edgeId", "edgeType", "source", "target", "relation", "template", "weight", "inGraph",
        "hasTrait", "expressedBy", "aliasOf", "neutralForm", "fact",
    ],
)
DIRECT = {
    EdgeType.SUBCLASS_OF: RDFS.subClassOf, EdgeType.HAS_TRAIT: STYLEKG.hasTrait,
    EdgeType.EXPRESSED_BY: STYLEKG.expressedBy, EdgeType.ALIAS_OF: STYLEKG.aliasOf,
    EdgeType.NEUTRAL_FORM: STYLEKG.neutralForm, EdgeType.FACT: STYLEKG.fact,
}
RDF_FORMATS = {"turtle": "turtle", "jsonld": "json-ld"}
JSONLD_CONTEXT = {"stylekg": NS_URI, "rdfs": str(RDFS), "xsd": str(XSD)}


def node_uri(node_id: str) -> URIRef:
    return URIRef(BASE + "node/" + quote(node_id, safe=""))


def edge_uri(edge_id: str) -> URIRef:
    return URIRef(BASE + "edge/" + quote(edge_id, safe=""))


def graph_uri(name: str) -> URIRef:
    return URIRef(BASE + "graph/" + quote(name, safe=""))


def to_rdf(graph: StyleGraph) -> Graph:
    """The style graph as an rdflib ``Graph``."""
    g = Graph()
    g.bind("stylekg", NS_URI)
    g.bind("rdfs", str(RDFS))
    gu = graph_uri(graph.name)
    g.add((gu, RDF.type, STYLEKG.StyleGraph))
    g.add((gu, STYLEKG.name, Literal(graph.name)))
    g.add((gu, STYLEKG.description, Literal(graph.description)))
    g.add((gu, STYLEKG.properties, Literal(json.dumps(graph.properties, sort_keys=True))))
    for n in graph.nodes():
        u = node_uri(n.id)
        g.add((u, RDF.type, STYLEKG[n.type.value]))
        g.add((u, STYLEKG.inGraph, gu))
        g.add((u, STYLEKG.nodeId, Literal(n.id)))
        g.add((u, STYLEKG.name, Literal(n.name)))
        g.add((u, RDFS.label, Literal(n.name)))
        _common(g, u, n.description, n.properties, n.annotations, n.provenance)
    for e in graph.edges():
        s, t = node_uri(e.source), node_uri(e.target)
        g.add((s, DIRECT[e.type], t))
        r = edge_uri(e.id)
        g.add((r, RDF.type, STYLEKG.Relationship))
        g.add((r, STYLEKG.edgeId, Literal(e.id)))
        g.add((r, STYLEKG.edgeType, Literal(e.type.value)))
        g.add((r, STYLEKG.source, s))
        g.add((r, STYLEKG.target, t))
        g.add((r, STYLEKG.weight, Literal(float(e.weight), datatype=XSD.double)))
        if e.relation:
            g.add((r, STYLEKG.relation, Literal(e.relation)))
        if e.template:
            g.add((r, STYLEKG.template, Literal(e.template)))
        _common(g, r, "", e.properties, e.annotations, e.provenance)
    return g


def _common(g: Graph, u: URIRef, description: str, properties: dict, annotations: dict, provenance) -> None:
    if description:
        g.add((u, STYLEKG.description, Literal(description)))
    if properties:
        g.add((u, STYLEKG.properties, Literal(json.dumps(properties, sort_keys=True))))
    if annotations:
        g.add((u, STYLEKG.annotations, Literal(json.dumps(annotations, sort_keys=True))))
    g.add((u, STYLEKG.provenanceSource, Literal(provenance.source)))
    if provenance.detail:
        g.add((u, STYLEKG.provenanceDetail, Literal(provenance.detail)))


def serialize(graph: StyleGraph, fmt: str = "turtle") -> str:
    """Turtle (``turtle``) or JSON-LD (``jsonld``) text."""
    try:
        rdf_fmt = RDF_FORMATS[fmt]
    except KeyError:
        raise GraphError(f"unknown RDF format {fmt!r}", hint="use turtle or jsonld") from None
    g = to_rdf(graph)
    if rdf_fmt == "json-ld":
        return g.serialize(format="json-ld", context=JSONLD_CONTEXT, indent=2)
    return g.serialize(format="turtle")


def _one(g: Graph, s: URIRef, p: URIRef, default: str = "") -> str:
    value = g.value(s, p)
    return default if value is None else str(value)


def _json(g: Graph, s: URIRef, p: URIRef, where: str) -> dict:
    text = g.value(s, p)
    if text is None:
        return {}
    try:
        return json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise GraphError(f"{where}: {p} is not valid JSON ({exc.msg})") from None


def from_rdf(g: Graph, source: str = "rdf") -> StyleGraph:
    """Rebuild a style graph from RDF made by :func:`to_rdf`; raises naming the offending resource."""
    graphs = list(g.subjects(RDF.type, STYLEKG.StyleGraph))
    if len(graphs) != 1:
        raise GraphError(f"{source}: expected one stylekg:StyleGraph, found {len(graphs)}",
                         hint="export with `stylekg kg export`")
    gu = graphs[0]
    data: dict = {"format": FORMAT, "version": VERSION, "name": _one(g, gu, STYLEKG.name),
                  "description": _one(g, gu, STYLEKG.description),
                  "properties": _json(g, gu, STYLEKG.properties, source), "nodes": [], "edges": []}
    for s, _, cls in g.triples((None, RDF.type, None)):
        if not str(cls).startswith(NS_URI):
            continue
        term = str(cls)[len(NS_URI):]
        try:
            STYLEKG[term]
        except (AttributeError, KeyError):
            raise GraphError(f"{source}: {s} has unknown stylekg type {term!r}",
                             hint=f"node types: {', '.join(t.value for t in NodeType)}") from None
        if term in ("StyleGraph", "Relationship"):
            continue
        where = f"{source}: node {unquote(str(s).rsplit('/', 1)[-1])!r}"
        data["nodes"].append({
            "id": _one(g, s, STYLEKG.nodeId), "type": term, "name": _one(g, s, STYLEKG.name),
            "description": _one(g, s, STYLEKG.description), "properties": _json(g, s, STYLEKG.properties, where),
            "annotations": _json(g, s, STYLEKG.annotations, where),
            "provenance": {"source": _one(g, s, STYLEKG.provenanceSource, "user"),
                           "detail": _one(g, s, STYLEKG.provenanceDetail)},
        })
    for r in g.subjects(RDF.type, STYLEKG.Relationship):
        where = f"{source}: edge {_one(g, r, STYLEKG.edgeId)!r}"
        ends = [g.value(r, STYLEKG.source), g.value(r, STYLEKG.target)]
        if None in ends:
            raise GraphError(f"{where}: missing stylekg:source or stylekg:target")
        ids = [_one(g, end, STYLEKG.nodeId) or unquote(str(end).rsplit("/", 1)[-1]) for end in ends]
        data["edges"].append({
            "id": _one(g, r, STYLEKG.edgeId), "type": _one(g, r, STYLEKG.edgeType), "source": ids[0],
            "target": ids[1], "relation": _one(g, r, STYLEKG.relation), "template": _one(g, r, STYLEKG.template),
            "weight": float(_one(g, r, STYLEKG.weight, "1.0")), "properties": _json(g, r, STYLEKG.properties, where),
            "annotations": _json(g, r, STYLEKG.annotations, where),
            "provenance": {"source": _one(g, r, STYLEKG.provenanceSource, "user"),
                           "detail": _one(g, r, STYLEKG.provenanceDetail)},
        })
    data["nodes"].sort(key=lambda d: d["id"])
    data["edges"].sort(key=lambda d: d["id"])
    return from_dict(data, source)


def parse(text: str, fmt: str = "turtle", source: str = "rdf") -> StyleGraph:
    """Parse Turtle/JSON-LD text into a validated style graph; a syntax error names the line."""
    try:
        rdf_fmt = RDF_FORMATS[fmt]
    except KeyError:
        raise GraphError(f"unknown RDF format {fmt!r}", hint="use turtle or jsonld") from None
    g = Graph()
    try:
        g.parse(data=text, format=rdf_fmt)
    except Exception as exc:  # rdflib raises many types; its message carries the line
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise GraphError(f"{source} is not valid {fmt}: {detail}", hint="check the file format/suffix") from None
    return from_rdf(g, source)
