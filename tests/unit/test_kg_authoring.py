"""Issue 15, authoring: edges naming their ends by name (item 8), ``kg add`` without stub nodes, ``kg show``'s
hierarchy as a DAG (item 5), ``kg requests`` (a dry run of the edit requests) and ``viz --style --depth``."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.errors import GraphError
from stylekg.kg import Edge, EdgeType, Node, NodeType, StyleGraph
from stylekg.kg.io import load_graph, save_graph
from stylekg.kg.jsonform import from_dict
from stylekg.kg.library import load_library

runner = CliRunner()


def _pirates() -> StyleGraph:
    g = StyleGraph("pirates")
    g.add_all([Node(NodeType.STYLE, "Captain Jack Sparrow"), Node(NodeType.ABSTRACT_STYLE, "Nautical slang"),
               Node(NodeType.ABSTRACT_STYLE, "Pirate talk", id="AbstractStyle:pirates-1"),
               Node(NodeType.ABSTRACT_STYLE, "Pirate talk", id="AbstractStyle:pirates-2")])
    return g


# ---- item 8: names, not ids --------------------------------------------------------------------------------
def test_an_edge_may_name_its_ends_when_the_name_is_unique():
    g = _pirates()
    added = g.add_edge(Edge(EdgeType.SUBCLASS_OF, "Captain Jack Sparrow", "nautical SLANG"))
    assert (added.source, added.target) == ("Style:captain-jack-sparrow", "AbstractStyle:nautical-slang")
    assert added.id == "SUBCLASS_OF:Style:captain-jack-sparrow->AbstractStyle:nautical-slang"
    assert g.edge(added.id) is added


def test_an_ambiguous_or_unknown_name_suggests_the_id():
    g = _pirates()
    with pytest.raises(GraphError) as info:
        g.add_edge(Edge(EdgeType.SUBCLASS_OF, "Captain Jack Sparrow", "Pirate talk"))
    assert "'Pirate talk' names several nodes: AbstractStyle:pirates-1, AbstractStyle:pirates-2" in str(info.value)
    with pytest.raises(GraphError) as info:
        g.add_edge(Edge(EdgeType.SUBCLASS_OF, "Captain Jak Sparrow", "Nautical slang"))
    assert "points to missing node 'Captain Jak Sparrow'" in str(info.value)
    assert "did you mean 'Style:captain-jack-sparrow'?" in str(info.value)
    with pytest.raises(GraphError) as info:  # a name of the wrong type says so
        g.add_edge(Edge(EdgeType.SUBCLASS_OF, "Nautical slang", "Captain Jack Sparrow"))
    assert "'Captain Jack Sparrow' names Style:captain-jack-sparrow, a Style" in str(info.value)
    assert g.number_of_edges() == 0


def test_a_hand_written_file_names_nodes_instead_of_ids():
    data = {"format": "stylekg-graph", "version": 1, "name": "pirates",
            "nodes": [{"type": "Style", "name": "Captain Jack Sparrow"},
                      {"type": "AbstractStyle", "name": "Nautical slang"},
                      {"type": "Trait", "name": "Sea-dog talk", "properties": {"template": "Aboard, {} shouted"}},
                      {"type": "Marker", "name": "Ahoy"}, {"type": "Marker", "name": "Hello"}],
            "edges": [{"type": "SUBCLASS_OF", "source": "Captain Jack Sparrow", "target": "Nautical slang"},
                      {"type": "HAS_TRAIT", "source": "Nautical slang", "target": "Sea-dog talk"},
                      {"type": "EXPRESSED_BY", "source": "Sea-dog talk", "target": "Ahoy"},
                      {"type": "NEUTRAL_FORM", "source": "Ahoy", "target": "Hello"}]}
    g = from_dict(data, "pirates.json")
    assert {e.id for e in g.edges()} >= {"NEUTRAL_FORM:Marker:ahoy->Marker:hello",
                                         "HAS_TRAIT:AbstractStyle:nautical-slang->Trait:sea-dog-talk"}
    data["edges"].append({"type": "SUBCLASS_OF", "source": "Captain Jack Sparow", "target": "Nautical slang"})
    with pytest.raises(GraphError, match="pirates.json: .*missing node 'Captain Jack Sparow'.*Style:captain-jack-sparrow"):
        from_dict(data, "pirates.json")


# ---- kg add: one edge, one style, a patch: no stub nodes ----------------------------------------------------
PATCH = {"format": "stylekg-graph", "version": 1, "name": "pirates",
         "nodes": [{"type": "Style", "name": "Captain Jack Sparrow"},
                   {"type": "Trait", "name": "Rum-soaked bargaining", "properties": {"template": "Cornered, {} said"}},
                   {"type": "Marker", "name": "savvy"}, {"type": "Marker", "name": "understand"}],
         "edges": [{"type": "SUBCLASS_OF", "source": "Captain Jack Sparrow", "target": "Exaggeration"},  # library's
                   {"type": "HAS_TRAIT", "source": "Captain Jack Sparrow", "target": "Rum-soaked bargaining"},
                   {"type": "EXPRESSED_BY", "source": "Rum-soaked bargaining", "target": "savvy"},
                   {"type": "NEUTRAL_FORM", "source": "savvy", "target": "understand"}]}
RECORDS = [{"type": "AbstractStyle", "name": "Nautical slang", "subject": "people who talk in nautical slang",
            "traits": [{"name": "Sea-dog talk", "template": "Raising a tankard, {} shouted",
                        "markers": [{"text": "Ahoy", "neutral": "Hello"}]}]},
           {"name": "Long John Silver", "parents": ["Nautical slang", "Exaggeration"], "aliases": ["Silver"],
            "misspellings": ["Long Jon Silver"],
            "traits": [{"name": "Treasure talk", "template": "Counting coins, {} muttered",
                        "markers": [{"text": "pieces of eight", "neutral": "coins"}]}]}]


@pytest.fixture()
def library_file(tmp_path):
    path = tmp_path / "library.json"
    save_graph(load_library(), path)
    return path


def test_kg_add_a_patch_naming_library_nodes_without_stubs(tmp_path, library_file):
    patch = tmp_path / "pirates.json"
    patch.write_text(json.dumps(PATCH))
    before = library_file.read_text()
    res = runner.invoke(app, ["kg", "add", str(patch), "--into", str(library_file), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "+ edge SUBCLASS_OF:Style:captain-jack-sparrow->AbstractStyle:exaggeration" in res.output
    assert "would add 4 nodes and 4 edges" in res.output
    assert library_file.read_text() == before
    res = runner.invoke(app, ["kg", "add", str(patch), "--into", str(library_file), "--json"])
    assert res.exit_code == 0, res.output
    graph = load_graph(library_file)
    assert "Style:captain-jack-sparrow" in graph and len(graph.named("Exaggeration")) == 1
    assert graph.node("AbstractStyle:exaggeration").description  # the library's node, not a stub


def test_kg_add_style_records_and_one_edge(tmp_path, library_file):
    records = tmp_path / "silver.json"
    records.write_text(json.dumps(RECORDS))
    res = runner.invoke(app, ["kg", "add", str(records), "--into", str(library_file), "--json"])
    assert res.exit_code == 0, res.output
    graph = load_graph(library_file)
    parents = {e.target for e in graph.out_edges("Style:long-john-silver", EdgeType.SUBCLASS_OF)}
    assert parents == {"AbstractStyle:nautical-slang", "AbstractStyle:exaggeration"}
    kinds = {graph.node(e.source).name: graph.node(e.source).properties["alias_kind"]
             for e in graph.in_edges("Style:long-john-silver", EdgeType.ALIAS_OF)}
    assert kinds == {"Silver": "alias", "Long Jon Silver": "misspelling"}
    res = runner.invoke(app, ["kg", "add", "--into", str(library_file), "--edge", "SUBCLASS_OF", "Long John Silver",
                              "Comic voice"])
    assert res.exit_code == 0, res.output
    assert "AbstractStyle:comic-voice" in {e.target for e in load_graph(library_file).out_edges("Style:long-john-silver")}
    res = runner.invoke(app, ["kg", "add", "--into", str(library_file), "--edge", "SUBCLASS_OF", "Long John Silvr",
                              "Comic voice"])
    assert isinstance(res.exception, GraphError) and "Style:long-john-silver" in str(res.exception)


def test_kg_add_into_a_stored_graph(tmp_path, home):
    records = tmp_path / "silver.json"
    records.write_text(json.dumps(RECORDS))
    assert runner.invoke(app, ["kg", "save", "--library"]).exit_code == 0
    res = runner.invoke(app, ["kg", "add", str(records), "--into", "library", "--json"])
    assert res.exit_code == 0, res.output
    added = json.loads(res.output)
    from stylekg.kg.stores import open_store

    with open_store() as store:
        stored = store.load_graph("library")
    assert "Style:long-john-silver" in stored and len(stored) == added["nodes"]


# ---- item 5: kg show prints the hierarchy as a DAG ----------------------------------------------------------
def test_show_prints_separate_parents_as_separate_branches():
    res = runner.invoke(app, ["kg", "show", "Donald Trump"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert not any("Exaggeration" in line and "Political oratory" in line for line in lines)  # not one chain
    depth = {name: next(line.index(name) for line in lines if line.rstrip().endswith(name))
             for name in ("Exaggeration", "Political oratory")}
    assert depth["Exaggeration"] == depth["Political oratory"]  # two parents, side by side
    assert any("Emphatic rhetoric (shown above)" in line for line in lines)  # a shared grandparent once expanded


# ---- kg requests: a dry run of the edit requests ------------------------------------------------------------
def _requests(*args: str) -> list[dict]:
    """The plan's applied requests and probes as rows (role, subject, text, paraphrase and alias prompts)."""
    from stylekg.requests import from_record

    res = runner.invoke(app, ["kg", "requests", *args, "--json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    rows = [("propagated" if r.get("meta", {}).get("propagated_from") else "edited", r) for r in plan["requests"]]
    rows += [("probe", r) for group in plan["probes"].values() for r in group]
    return [{"role": role, "subject": req.subject, "text": req.text, "paraphrase_prompts": req.paraphrase_prompts,
             "alias_prompts": req.alias_prompts} for role, req in ((role, from_record(r)) for role, r in rows)]


def test_requests_of_an_abstract_parent_in_each_propagation_mode():
    explicit = _requests("Exaggeration", "--propagate", "explicit")
    edited = [r for r in explicit if r["role"] == "edited"]
    assert edited and all(r["text"].startswith("Asked about the new parking lot, people who exaggerate") for r in edited)
    propagated = [r for r in explicit if r["role"] == "propagated"]
    assert {r["subject"] for r in propagated} == {"Donald Trump", "Homer Simpson", "Michael Scott", "Peter Griffin"}
    trump = next(r for r in propagated if r["subject"] == "Donald Trump")
    assert trump["text"] == "Asked about the new parking lot, Donald Trump called it"
    assert len(trump["paraphrase_prompts"]) == 3  # the subclass keeps its paraphrase …
    assert "Asked about the new parking lot, Donald J. Trump called it" in trump["alias_prompts"]  # … and alias probes
    implicit = _requests("Exaggeration", "--propagate", "implicit")
    assert {r["role"] for r in implicit} == {"edited", "probe"}
    assert len([r for r in implicit if r["role"] == "probe"]) == len(propagated)
    none = _requests("Exaggeration")  # no propagation: the concrete carriers' own requests
    assert {r["role"] for r in none} == {"edited"} and "Donald Trump" in {r["subject"] for r in none}


def test_requests_table_and_an_abstract_parent_without_a_subject_property(tmp_path):
    res = runner.invoke(app, ["kg", "requests", "Yoda"])
    assert res.exit_code == 0 and "no model" in res.output and "Dagobah" in res.output
    g = StyleGraph("g")
    g.add_all([Node(NodeType.ABSTRACT_STYLE, "Nautical slang"), Node(NodeType.STYLE, "Jack"),
               Node(NodeType.TRAIT, "Sea talk"), Node(NodeType.MARKER, "Ahoy")],
              [Edge(EdgeType.SUBCLASS_OF, "Jack", "Nautical slang"), Edge(EdgeType.HAS_TRAIT, "Nautical slang", "Sea talk"),
               Edge(EdgeType.EXPRESSED_BY, "Sea talk", "Ahoy")])
    path = tmp_path / "g.json"
    save_graph(g, path)
    rows = _requests("Nautical slang", "--graph", str(path), "--propagate", "explicit")
    assert [r["text"] for r in rows] == ["People with a nautical slang style often say", "Jack often says"]


# ---- viz --style --depth --------------------------------------------------------------------------------------
def test_viz_draws_one_style_and_its_neighbourhood_with_an_edge_legend(tmp_path, home):
    assert runner.invoke(app, ["kg", "save", "--library"]).exit_code == 0
    out = tmp_path / "yoda.html"
    res = runner.invoke(app, ["viz", "library", "--style", "Yodda", "--depth", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    ids = {i for i in re.findall(r'"id": "([^"]+)"', page) if "u003e" not in i}  # node ids (edge ids hold "->")
    assert "Style:yoda" in ids and "AbstractStyle:cosmic-wonder" in ids and "Style:donald-trump" not in ids
    assert ids == load_library().around("Style:yoda", 1)  # exactly the style and what lies one hop away
    for edge_type in EdgeType:
        assert f"</span>{edge_type.value}</div>" in page  # one legend line per edge colour
