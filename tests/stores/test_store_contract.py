"""One behaviour suite for every graph store (LadybugDB embedded and a real Neo4j 5.26)."""

from __future__ import annotations

import pytest

from stylekg.errors import StoreError
from stylekg.kg import queries
from stylekg.kg.graph import StyleGraph
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType, RunRecord, TargetMetrics

from .graphs import GRAPH, NASTY, edit_run, hierarchy, snapshot


def _dump(store, skip: tuple[str, ...] = ()) -> list:
    """Everything in the store, order-independent (to prove failed writes changed nothing)."""
    rows = [{"n": {k: v for k, v in r["n"].items() if k not in skip}} for r in store.query("MATCH (n) RETURN n AS n")]
    rels = store.query("MATCH (a)-[r]->(b) RETURN a.key AS a, r AS r, b.key AS b")
    return sorted(repr(sorted(r["n"].items())) for r in rows) + sorted(
        repr((r["a"], sorted(r["r"].items()), r["b"])) for r in rels
    )


def test_round_trip_loses_nothing(store):
    graph = hierarchy()
    report = store.save_graph(graph)
    assert (report.graph, report.nodes, report.edges, report.created_nodes, report.created_edges) == (GRAPH, 11, 10, 11, 10)
    assert (report.updated_nodes, report.deleted_nodes, report.deleted_edges) == (0, [], [])
    back = store.load_graph(GRAPH)
    assert snapshot(back) == snapshot(graph)
    assert back.find(NASTY).description == "`backticks` and 'quotes'"
    assert back.node(back.find("Donald Trump").id).annotations == {"note": {"deep": True}}


def test_save_is_an_idempotent_upsert_that_never_deletes(store):
    """Issue 15 item 6 changes this on purpose: a plain save used to prune what the new graph lacked."""
    graph = hierarchy()
    store.save_graph(graph)
    before = _dump(store, skip=("updated",))  # the Graph node's save time is the only thing that moves
    again = store.save_graph(graph)
    assert _dump(store, skip=("updated",)) == before
    assert (again.created_nodes, again.updated_nodes, again.created_edges, again.updated_edges) == (0, 0, 0, 0)
    smaller = hierarchy()
    smaller.remove_node(smaller.find("P. T. Barnum").id)
    kept = store.save_graph(smaller)
    assert (kept.nodes, kept.edges, kept.deleted_nodes) == (11, 10, [])
    assert snapshot(store.load_graph(GRAPH)) == snapshot(graph)
    (row,) = store.list_graphs()
    assert (row["name"], row["nodes"], row["edges"], row["runs"]) == (GRAPH, 11, 10, 0)


def test_replace_deletes_what_the_new_graph_lacks_and_says_so(store):
    graph = hierarchy()
    store.save_graph(graph)
    store.write_run(edit_run("r1", graph, "2024-01-01T00:00:00+00:00", 0.9, 0.8))
    smaller = hierarchy()
    barnum = smaller.find("P. T. Barnum").id
    smaller.remove_node(barnum)
    trump = smaller.find("Donald Trump").id
    smaller.remove_node(trump)  # measured by run r1: 3 metrics + 1 fact target, 2 TOUCHED links
    preview = store.save_graph(smaller, replace=True, dry_run=True)
    assert preview.dry_run and sorted(preview.deleted_nodes) == sorted([barnum, trump])
    assert snapshot(store.load_graph(GRAPH)) == snapshot(graph)  # a dry run writes nothing
    report = store.save_graph(smaller, replace=True)
    assert sorted(report.deleted_nodes) == sorted([barnum, trump]) and len(report.deleted_edges) == 4
    assert report.lost_run_links == 2 + 4  # TOUCHED (the node and its fact edge) + MEASURED (3 + 1)
    assert (report.nodes, report.edges) == (9, 6)
    assert snapshot(store.load_graph(GRAPH)) == snapshot(smaller)
    (row,) = store.list_graphs()
    assert (row["nodes"], row["edges"]) == (9, 6)


def test_graphs_are_isolated_and_deletable(store):
    store.save_graph(hierarchy("a"))
    store.save_graph(hierarchy("b"))
    assert [g["name"] for g in store.list_graphs()] == ["a", "b"]
    store.write_run(edit_run("r-a", hierarchy("a"), "2024-01-01T00:00:00+00:00", 0.9, 0.8))
    assert store.delete_graph("a") is True
    assert store.delete_graph("a") is False
    assert [g["name"] for g in store.list_graphs()] == ["b"]
    assert snapshot(store.load_graph("b")) == snapshot(hierarchy("b"))
    assert store.runs() == []
    with pytest.raises(StoreError, match="no graph 'a'.*stored graphs: b"):
        store.load_graph("a")


def test_subgraph(store):
    store.save_graph(hierarchy())
    sub = store.load_subgraph(GRAPH, "Bombast", depth=1)
    names = sorted(n.name for n in sub.nodes())
    assert names == sorted(["Bombast", "Exaggeration", "Donald Trump", NASTY])
    assert {e.type for e in sub.edges()} == {EdgeType.SUBCLASS_OF}
    assert len(list(sub.edges())) == 3


def test_runs_coexist_and_round_trip(store):
    graph = hierarchy()
    store.save_graph(graph)
    first = edit_run("run-1", graph, "2024-01-01T00:00:00+00:00", 0.9, 0.8)
    second = edit_run("run-2", graph, "2024-02-01T00:00:00+00:00", 0.5, 0.3)
    store.write_run(first)
    store.write_run(second)
    assert store.load_run("run-1") == first
    assert [r.id for r in store.runs(GRAPH)] == ["run-2", "run-1"]
    assert store.list_graphs()[0]["runs"] == 2
    # saving the graph again keeps both runs and their links
    store.save_graph(graph)
    assert store.load_run("run-2") == second


def test_duplicate_run_is_refused_and_changes_nothing(store):
    graph = hierarchy()
    store.save_graph(graph)
    run = edit_run("run-1", graph, "2024-01-01T00:00:00+00:00", 0.9, 0.8)
    store.write_run(run)
    before = _dump(store)
    clash = edit_run("run-1", graph, "2025-01-01T00:00:00+00:00", 0.1, 0.1)
    with pytest.raises(StoreError, match="run-1.*nothing was written"):
        store.write_run(clash)
    assert _dump(store) == before
    assert store.load_run("run-1") == run


def test_run_touching_unknown_target_writes_nothing(store):
    graph = hierarchy()
    store.save_graph(graph)
    before = _dump(store)
    run = edit_run("run-x", graph, "2024-01-01T00:00:00+00:00", 0.9, 0.8)
    run.targets.append(TargetMetrics("Style:nobody", {"efficacy": 1.0}))  # after three good targets
    with pytest.raises(StoreError, match="nothing was written.*Style:nobody"):
        store.write_run(run)
    assert _dump(store) == before


def test_bad_value_mid_batch_leaves_store_unchanged(store):
    store.save_graph(hierarchy())
    before = _dump(store)
    bigger = hierarchy()
    extra = [Node(NodeType.STYLE, f"new style {i}") for i in range(30)]
    edges = [Edge(EdgeType.SUBCLASS_OF, n.id, bigger.find("Hype").id) for n in extra]
    bigger.add_all(extra, edges)
    edges[17].weight = "heavy"  # not a number: fails after all nodes and some edges were sent
    with pytest.raises(StoreError, match="nothing was written"):
        store.save_graph(bigger)
    assert _dump(store) == before


def test_values_are_parameters(store):
    store.save_graph(hierarchy())
    rows = store.query("MATCH (s:Style) WHERE s.name = $name RETURN s.id AS id", {"name": NASTY})
    assert rows == [{"id": hierarchy().find(NASTY).id}]
    assert store.query("MATCH (s:Style) WHERE s.name = $name RETURN s.id AS id", {"name": "x' OR 1=1 //"}) == []


def test_queries_are_read_only_unless_write(store):
    store.save_graph(hierarchy())
    before = _dump(store)
    for cypher in ("MATCH (n) DETACH DELETE n", "MATCH (s:Style) SET s.name = 'x'", "CREATE (:Style {key: 'k'})"):
        with pytest.raises(StoreError, match="read-only"):
            store.query(cypher)
    assert _dump(store) == before
    # a keyword inside a string or a property name is not a clause
    assert store.query("RETURN 'CREATE and DELETE' AS text") == [{"text": "CREATE and DELETE"}]
    store.query("MATCH (s:Style) WHERE s.name = $n SET s.description = $d", {"n": "Hype", "d": "x"}, write=True)
    store.query("MATCH (s:AbstractStyle) WHERE s.name = $n SET s.description = $d", {"n": "Hype", "d": "new"}, write=True)
    assert store.load_graph(GRAPH).find("Hype").description == "new"


def test_subclass_effects_uses_latest_run(store):
    graph = hierarchy()
    store.save_graph(graph)
    store.write_run(edit_run("old", graph, "2024-01-01T00:00:00+00:00", 0.8, 0.9))
    store.write_run(edit_run("new", graph, "2024-03-01T00:00:00+00:00", 0.4, 0.2))
    effects = {e.name: e for e in queries.subclass_effects(store, GRAPH, "exaggeration")}
    assert sorted(effects) == sorted(["Bombast", "Hype", "Donald Trump", NASTY, "P. T. Barnum"])
    assert effects["Bombast"].depth == 1 and effects["Donald Trump"].depth == 2
    assert effects["Bombast"].run == "new" and effects["Bombast"].metrics == {"efficacy": pytest.approx(0.2)}
    assert effects["Donald Trump"].metrics == {
        "efficacy": pytest.approx(0.1), "style_before": pytest.approx(0.1), "style_after": pytest.approx(0.6)}
    fact = next(graph.edges(EdgeType.FACT)).id
    assert effects["Donald Trump"].edge_metrics == {fact: {"efficacy": 1.0}}
    assert effects["Hype"].run is None and effects["Hype"].metrics == {}


def test_last_edit_effects_shows_propagation(store):
    graph = hierarchy()
    store.save_graph(graph)
    store.write_run(edit_run("old", graph, "2024-01-01T00:00:00+00:00", 0.8, 0.9))
    store.write_run(edit_run("new", graph, "2024-03-01T00:00:00+00:00", 0.4, 0.2))
    rows = queries.last_edit_effects(store, GRAPH, "Exaggeration")
    assert {e.run for e in rows} == {"new"}
    by_name = {e.name: e for e in rows}
    assert [by_name[n].depth for n in ("Exaggeration", "Bombast", "Donald Trump")] == [0, 1, 2]
    assert [by_name[n].metrics["efficacy"] for n in ("Exaggeration", "Bombast", "Donald Trump")] == pytest.approx(
        [0.4, 0.2, 0.1])
    assert by_name["P. T. Barnum"].metrics == {}
    assert queries.last_edit_effects(store, GRAPH, "Hype") == []


def test_shared_parent_and_weak_edits(store):
    graph = hierarchy()
    store.save_graph(graph)
    rows = queries.shared_parent_styles(store, GRAPH, "Exaggeration")
    assert [(r["name"], r["depth"]) for r in rows] == sorted(
        [("Donald Trump", 2), (NASTY, 2), ("P. T. Barnum", 2)], key=lambda t: (t[1], graph.find(t[0]).id))
    store.write_run(edit_run("ok", graph, "2024-01-01T00:00:00+00:00", 0.8, 0.9))
    store.write_run(edit_run("bad", graph, "2024-03-01T00:00:00+00:00", 0.4, 0.2))
    weak = queries.weak_neighbourhood_edits(store, 0.5)
    assert [(w["run"], w["name"], w["value"]) for w in weak] == [("bad", "Exaggeration", pytest.approx(0.2))]
    assert [w["run"] for w in queries.weak_neighbourhood_edits(store, 0.95)] == ["bad", "ok"]



def test_subclass_run_metrics_reads_one_run_on_every_subclass(store):
    """The pipeline write-back's query: one run's presence metrics on the subclasses (any depth) of a node."""
    from stylekg.kg.stores.cypher_common import SUBCLASS_METRICS

    graph = hierarchy()
    store.save_graph(graph)
    ex, bom, trump = (graph.find(n).id for n in ("Exaggeration", "Bombast", "Donald Trump"))

    def run(run_id: str, held: float) -> RunRecord:
        return RunRecord(id=run_id, kind="edit", method="rome", model="m", graph=GRAPH, created="2024-01-01T00:00:00+00:00",
                         targets=[TargetMetrics(ex, {"held_before": 1.0, "held_after": 0.0}, "edited"),
                                  TargetMetrics(bom, {"held_after": held, "efficacy": 0.3}, "subclass"),
                                  TargetMetrics(trump, {"held_before": 1.0, "held_after": held,
                                                        "marker_logprob_delta": -0.5}, "subclass")])

    store.write_run(run("a", 0.5))
    store.write_run(run("b", 0.25))
    query, params = store.cypher.subclass_run_metrics(ex, GRAPH, "b")
    assert params == {"node": ex, "graph": GRAPH, "run": "b", "metrics": list(SUBCLASS_METRICS)}
    assert GRAPH not in query and ex not in query  # values only as $parameters
    assert store.query(query, params) == [  # the parent itself, run "a" and other metrics are left out
        {"style": "Bombast", "metric": "held_after", "value": 0.25},
        {"style": "Donald Trump", "metric": "held_after", "value": 0.25},
        {"style": "Donald Trump", "metric": "held_before", "value": 1.0},
        {"style": "Donald Trump", "metric": "marker_logprob_delta", "value": -0.5},
    ]
    assert store.query(*store.cypher.subclass_run_metrics(ex, GRAPH, "a", ["efficacy"])) == [
        {"style": "Bombast", "metric": "efficacy", "value": 0.3}]
    assert store.query(*store.cypher.subclass_run_metrics(bom, GRAPH, "b", ["held_after"])) == [
        {"style": "Donald Trump", "metric": "held_after", "value": 0.25}]
    assert store.query(*store.cypher.subclass_run_metrics(ex, "other graph", "b")) == []

def test_named_query_errors_are_clear(store):
    store.save_graph(hierarchy())
    with pytest.raises(StoreError, match="has no node 'Nobody'"):
        queries.subclass_effects(store, GRAPH, "Nobody")
    with pytest.raises(StoreError, match="no graph 'missing'"):
        queries.subclass_effects(store, "missing", "Hype")


def test_every_builder_runs_on_the_real_database(store):
    """Each Cypher builder of the store's module compiles and runs (inside a transaction rolled back)."""
    cy = store.cypher
    graph = hierarchy()
    key = f"{graph.find('Hype').id}@{GRAPH}"
    row_n = {"key": "k", "id": "i", "graph": "g", "type": "Style", "name": "n", "description": "",
             "properties": "{}", "annotations": "{}", "prov_source": "user", "prov_detail": ""}
    row_e = {k: v for k, v in row_n.items() if k not in ("type", "name", "description")}
    row_e.update(src="k", dst="k", relation="", template="", weight=1.0)
    run = {"id": "r", "kind": "edit", "method": "m", "model": "x", "graph": "g", "hparams_hash": "", "created": "",
           "version": "", "status": "ok", "params": "{}"}
    link = {"run": "r", "key": "k", "role": "edited", "edge": "", "graph": "g"}
    calls = [
        cy.get_meta("schema_version"), cy.set_meta("probe", "1"), cy.upsert_graph("g", "", "{}", ""),
        cy.create_nodes(NodeType.STYLE, [row_n]), cy.update_nodes(NodeType.STYLE, [row_n]),
        cy.create_edges(EdgeType.FACT, NodeType.STYLE, NodeType.STYLE, [row_e]),
        cy.update_edges(EdgeType.FACT, NodeType.STYLE, NodeType.STYLE, [row_e]),
        cy.node_keys(NodeType.STYLE, "g"), cy.edge_keys(EdgeType.FACT, "g"), cy.get_graph("g"),
        cy.find_node("g", "n"), cy.graph_nodes(NodeType.STYLE, "g"), cy.graph_edges(EdgeType.FACT, "g"),
        cy.neighbourhood("k", 2), cy.list_graphs(), cy.create_run(run), cy.find_nodes(NodeType.STYLE, ["k"]),
        cy.find_edges(EdgeType.FACT, ["k"]),
        cy.link_touched(NodeType.STYLE, [{**link, "pos": 0}]), cy.link_measured(NodeType.STYLE, [{**link, "name": "e", "value": 1.0}]),
        cy.list_runs("g"), cy.list_runs(None), cy.get_run("r"), cy.run_targets("r"), cy.run_metrics("r"),
        cy.subclass_effects(NodeType.ABSTRACT_STYLE, key), cy.last_edit_effects(NodeType.ABSTRACT_STYLE, key),
        cy.shared_parent_styles(NodeType.ABSTRACT_STYLE, key), cy.weak_edits(0.5, "neighbourhood"),
        cy.subclass_run_metrics("i", "g", "r"), cy.list_graph_heads(), cy.count_nodes(NodeType.STYLE),
        cy.count_edges(EdgeType.FACT), cy.stray_nodes(NodeType.STYLE), cy.stray_edges(EdgeType.FACT),
        cy.count_run_links(NodeType.STYLE, ["k"]), cy.latest_run_on_subclasses(NodeType.ABSTRACT_STYLE, key),
        cy.run_on_subclasses(NodeType.ABSTRACT_STYLE, key, "r"),
        cy.common_parents(NodeType.STYLE, key, NodeType.STYLE, key),
        cy.delete_edges_by_key(EdgeType.FACT, ["k"]), cy.delete_nodes_by_key(NodeType.STYLE, ["k"]),
        cy.delete_runs("g"), cy.delete_nodes(NodeType.STYLE, "g"), cy.delete_graph("g"),
    ]
    before = _dump(store)

    class Abort(Exception):
        pass

    def work(tx):
        for query, params in calls:
            tx(query, params)
        raise Abort

    with pytest.raises(Abort):
        store._write(work)
    assert _dump(store) == before


def test_cypher_modules_have_the_same_builders():
    from stylekg.kg.stores import cypher_ladybug, cypher_neo4j

    own = {cypher_ladybug.__name__, cypher_neo4j.__name__, "stylekg.kg.stores.cypher_common"}

    def names(mod):
        return {n for n, v in vars(mod).items() if callable(v) and not n.startswith("_") and v.__module__ in own}

    assert names(cypher_ladybug) == names(cypher_neo4j)
    assert {"create_run", "find_node", "subclass_effects", "schema_statements"} <= names(cypher_neo4j)


def test_empty_graph_and_runs_without_metrics(store):
    graph = StyleGraph(name="empty")
    store.save_graph(graph)
    assert snapshot(store.load_graph("empty")) == snapshot(graph)
    g2 = hierarchy("h")
    store.save_graph(g2)
    run = RunRecord(id="t1", kind="trace", method="causal", model="m", graph="h", created="2024-01-01",
                    targets=[TargetMetrics(g2.find("Hype").id, {}, "traced")])
    store.write_run(run)
    assert store.load_run("t1") == run
