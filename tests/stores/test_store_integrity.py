"""No lost graphs (issue 14 item 4, issue 15 item 6) and a store that stays valid (issue 15 item 7), on both stores.

* a save is an upsert: it never deletes a node a run measured or that another source added (a style an LLM
  decomposed into ``library``), and the MEASURED links of earlier runs survive it; ``replace`` deletes and says what;
* a ``--write`` query that breaks a graph (``AbstractStyle → Style`` under ``SUBCLASS_OF``, a cycle, an edge without a
  weight) is rolled back; a graph broken by another client loads as one clear error; counts are derived.
"""

from __future__ import annotations

import pytest

from stylekg.errors import StoreError
from stylekg.kg.graph import StyleGraph
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType, Provenance, RunRecord, TargetMetrics

from .graphs import hierarchy, snapshot

LIB = "library"


def _measured(store) -> list:
    return sorted((r["run"], r["id"], r["name"], r["value"]) for r in store.query(
        "MATCH (r:Run)-[m:MEASURED]->(n) RETURN r.id AS run, n.id AS id, m.name AS name, m.value AS value"))


def _decomposed(base: StyleGraph) -> tuple[StyleGraph, str]:
    """``base`` with a style an LLM decomposed merged in under an existing abstract parent (as a run does)."""
    graph = base.copy()
    llm = Provenance("llm", "provider=openai model=x")
    style = Node(NodeType.STYLE, "Carl Sagan", provenance=llm)
    trait = Node(NodeType.TRAIT, "cosmic wonder", provenance=llm)
    marker = Node(NodeType.MARKER, "billions and billions", provenance=llm)
    graph.add_all([style, trait, marker], [
        Edge(EdgeType.SUBCLASS_OF, style.id, graph.find("Hype").id, provenance=llm),
        Edge(EdgeType.HAS_TRAIT, style.id, trait.id, provenance=llm),
        Edge(EdgeType.EXPRESSED_BY, trait.id, marker.id, provenance=llm),
    ])
    return graph, style.id


def test_saving_the_library_again_keeps_decomposed_styles_and_measurements(store):
    library = hierarchy(LIB)
    store.save_graph(library)
    with_sagan, sagan = _decomposed(library)
    store.save_graph(with_sagan)  # a run of a decomposed style merges it into the library graph
    hype = library.find("Hype").id
    run = RunRecord(id="run-sagan", kind="edit", method="rome", model="m", graph=LIB, created="2024-01-01T00:00:00+00:00",
                    targets=[TargetMetrics(hype, {"held_before": 1.0, "held_after": 0.0}, "edited"),
                             TargetMetrics(sagan, {"held_before": 1.0, "held_after": 0.5, "efficacy": 0.7}, "subclass")])
    store.write_run(run)
    before = _measured(store)
    assert len(before) == 5
    report = store.save_graph(hierarchy(LIB))  # kg save --library / the demo / a library run / compare's write-back
    back = store.load_graph(LIB)
    assert sagan in back and back.node(sagan).provenance.source == "llm" and back.find("billions and billions")
    assert _measured(store) == before
    assert store.load_run("run-sagan") == run
    assert store.list_graphs()[0]["nodes"] == len(with_sagan)
    assert report.deleted_nodes == [] and report.deleted_edges == []


def test_an_upsert_updates_in_place_and_keeps_run_links(store):
    graph = hierarchy(LIB)
    store.save_graph(graph)
    store.write_run(RunRecord(id="r", kind="edit", method="m", model="m", graph=LIB, created="2024-01-01",
                              targets=[TargetMetrics(graph.find("Donald Trump").id, {"efficacy": 0.5})]))
    changed = hierarchy(LIB)
    changed.node(changed.find("Donald Trump").id).description = "new words"
    report = store.save_graph(changed)
    assert (report.updated_nodes, report.created_nodes) == (1, 0)
    assert store.load_graph(LIB).find("Donald Trump").description == "new words"
    assert _measured(store) == [("r", graph.find("Donald Trump").id, "efficacy", 0.5)]


def test_save_into_a_named_graph_and_merge_refuses_a_cycle(store):
    store.save_graph(hierarchy("file's own name"), name="mine")
    assert [g["name"] for g in store.list_graphs()] == ["mine"]
    # each graph alone is valid; merged, Hype → Bombast → Exaggeration → Hype would be a cycle
    other = StyleGraph("other")
    ex, bom, hype = (Node(NodeType.ABSTRACT_STYLE, n) for n in ("Exaggeration", "Bombast", "Hype"))
    other.add_all([ex, bom, hype], [Edge(EdgeType.SUBCLASS_OF, ex.id, hype.id)])
    before = snapshot(store.load_graph("mine"))
    with pytest.raises(StoreError, match="rolled back.*cycle"):
        store.save_graph(other, name="mine")
    assert snapshot(store.load_graph("mine")) == before


@pytest.mark.parametrize("cypher, broken", [
    ("MATCH (p:AbstractStyle {graph: 'g', name: 'Hype'}), (s:Style {graph: 'g', name: 'Donald Trump'}) "
     "CREATE (p)-[:SUBCLASS_OF {id: 'x', key: 'x@g', graph: 'g', weight: 1.0, relation: '', template: '', "
     "properties: '{}', annotations: '{}', prov_source: 'user', prov_detail: ''}]->(s)", "SUBCLASS_OF"),
    ("MATCH (a:AbstractStyle {graph: 'g', name: 'Exaggeration'}), (b:AbstractStyle {graph: 'g', name: 'Bombast'}) "
     "CREATE (a)-[:SUBCLASS_OF {id: 'y', key: 'y@g', graph: 'g', weight: 1.0, relation: '', template: '', "
     "properties: '{}', annotations: '{}', prov_source: 'user', prov_detail: ''}]->(b)", "cycle"),
    ("MATCH ()-[e:HAS_TRAIT]->() WHERE e.graph = 'g' SET e.weight = NULL", "no weight"),
    ("MATCH (s:Style {graph: 'g', name: 'Donald Trump'}) SET s.graph = 'elsewhere'", "inconsistent"),
    ("CREATE (:Style {key: 'loose', name: 'Loose'})", "inconsistent"),
])
def test_a_write_query_that_breaks_a_graph_is_rolled_back(store, cypher, broken):
    store.save_graph(hierarchy("g"))
    before = snapshot(store.load_graph("g"))
    with pytest.raises(StoreError, match=f"rolled back.*{broken}"):
        store.query(cypher, write=True)
    assert snapshot(store.load_graph("g")) == before
    assert store.list_graphs()[0]["nodes"] == 11


def test_good_writes_pass_and_counts_are_derived(store):
    store.save_graph(hierarchy("g"))
    store.query("MATCH (s:Style {graph: 'g', name: 'P. T. Barnum'}) DETACH DELETE s", write=True)
    (row,) = store.list_graphs()
    assert (row["nodes"], row["edges"]) == (10, 9)  # kept up to date without a save
    assert len(store.load_graph("g")) == 10


def test_a_graph_broken_by_another_client_loads_as_one_clear_error(store):
    """Another client (an old stylekg, a Neo4j tool) writes past the validation: loading names the culprit."""
    store.save_graph(hierarchy("g"))
    store.save_graph(hierarchy("h"))
    store._write(lambda tx: tx("MATCH ()-[e:HAS_TRAIT]->() WHERE e.graph = 'g' SET e.weight = NULL", {}))
    with pytest.raises(StoreError, match="stored graph 'g' is broken: HAS_TRAIT edge .* has no weight"):
        store.load_graph("g")
    # a write into another graph is not blocked by the damage it did not cause; one that repairs it passes too
    store.query("MATCH (s:Style {graph: 'h', name: 'P. T. Barnum'}) SET s.description = 'ok'", write=True)
    store.query("MATCH ()-[e:HAS_TRAIT]->() WHERE e.graph = 'g' SET e.weight = 0.75", write=True)
    assert snapshot(store.load_graph("g")) == snapshot(hierarchy("g"))
