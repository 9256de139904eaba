"""Graph files: JSON, GraphML, Turtle and JSON-LD round trips, SPARQL, and clear errors on bad files."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from rdflib import Graph as RDFGraph

from stylekg.errors import GraphError
from stylekg.kg.io import import_into, load_graph, save_graph
from stylekg.kg.jsonform import from_json, to_dict
from stylekg.kg.library import library_style, load_library
from stylekg.kg.rdf import STYLEKG, parse, serialize, to_rdf


def _canon(graph):
    d = to_dict(graph)
    return sorted(json.dumps(n, sort_keys=True) for n in d["nodes"]), sorted(json.dumps(e, sort_keys=True) for e in d["edges"])


@pytest.mark.parametrize("suffix", [".json", ".ttl", ".jsonld"])
def test_lossless_round_trip(tmp_path, suffix):
    g = load_library()
    n = g.node("Style:yoda")
    n.annotations["note"] = {"edited": True, "score": 0.5}
    path = save_graph(g, tmp_path / f"lib{suffix}")
    back = load_graph(path)
    assert _canon(back) == _canon(g)
    assert back.name == g.name and back.properties == g.properties


def test_graphml_export(tmp_path):
    g = library_style("Carl Sagan")
    path = save_graph(g, tmp_path / "s.graphml")
    back = nx.read_graphml(path)
    assert back.number_of_nodes() == len(g) and back.number_of_edges() == g.number_of_edges()
    assert back.nodes["Style:carl-sagan"]["type"] == "Style"


def test_sparql_over_turtle_export():
    rdf = RDFGraph().parse(data=serialize(load_library(), "turtle"), format="turtle")
    rows = rdf.query("""
        PREFIX stylekg: <https://stylekg.dev/ns#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?name WHERE {
            ?s a stylekg:Style ; rdfs:subClassOf+ ?p ; stylekg:name ?name .
            ?p stylekg:name "Exaggeration" .
        } ORDER BY ?name""")
    names = [str(r[0]) for r in rows]
    assert names == ["Donald Trump", "Homer Simpson", "Michael Scott", "Peter Griffin"]


def test_closed_namespace_rejects_typos():
    with pytest.raises(AttributeError):
        STYLEKG.hasTriat  # noqa: B018
    assert str(STYLEKG.hasTrait).endswith("#hasTrait")


def test_unknown_rdf_type_names_resource():
    g = to_rdf(library_style("Yoda"))
    text = g.serialize(format="turtle").replace("stylekg:Trait", "stylekg:Wizard", 1)
    with pytest.raises(GraphError, match="unknown stylekg type 'Wizard'"):
        parse(text, "turtle", source="yoda.ttl")


def test_wrong_format_and_bad_json_name_the_line(tmp_path):
    (tmp_path / "g.ttl").write_text('{"format": "stylekg-graph"}')
    with pytest.raises(GraphError, match="g.ttl is not valid turtle"):
        load_graph(tmp_path / "g.ttl")
    with pytest.raises(GraphError, match="line 3 column"):
        from_json('{\n "format": "stylekg-graph",\n "nodes": [,]}', "bad.json")
    with pytest.raises(GraphError, match="not a stylekg graph file"):
        from_json('{"nodes": []}', "other.json")
    with pytest.raises(GraphError, match="cannot tell the format"):
        load_graph((tmp_path / "g.txt").resolve()) if (tmp_path / "g.txt").write_text("x") else None


def test_bad_nodes_and_edges_are_named():
    good = to_dict(library_style("Yoda"))
    bad = json.loads(json.dumps(good))
    bad["nodes"][2]["type"] = "Wizard"
    with pytest.raises(GraphError, match=r"nodes\[2\].*unknown node type 'Wizard'"):
        from_json(json.dumps(bad), "y.json")
    bad = json.loads(json.dumps(good))
    bad["edges"].append({"type": "HAS_TRAIT", "source": "Style:yoda", "target": "Trait:missing"})
    with pytest.raises(GraphError, match="missing node 'Trait:missing'"):
        from_json(json.dumps(bad), "y.json")
    bad = json.loads(json.dumps(good))
    fact = next(e for e in bad["edges"] if e["type"] == "FACT")
    fact["template"] = "lived on"
    with pytest.raises(GraphError, match="without '\\{\\}'"):
        from_json(json.dumps(bad), "y.json")


def test_import_into_is_atomic():
    target = library_style("Yoda")
    before = _canon(target)
    other = library_style("Donald Trump")
    added_nodes, added_edges = import_into(target, other)
    assert "Style:donald-trump" in added_nodes and added_edges
    target2 = library_style("Yoda")
    cyc = library_style("Yoda")
    from stylekg.kg import Edge, EdgeType

    cyc.add_edge(Edge(EdgeType.SUBCLASS_OF, "AbstractStyle:archaic-inverted-syntax", "AbstractStyle:cosmic-wonder"))
    target2.add_edge(Edge(EdgeType.SUBCLASS_OF, "AbstractStyle:cosmic-wonder", "AbstractStyle:archaic-inverted-syntax"))
    # each edge is fine alone; together they close a cycle
    snapshot = _canon(target2)
    with pytest.raises(GraphError, match="cycle"):
        import_into(target2, cyc)  # … but a cycle together with target2's edges
    assert _canon(target2) == snapshot
    assert _canon(library_style("Yoda")) == before
