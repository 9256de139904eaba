"""The CLI over the embedded store: kg save/load/graphs, query (read-only by default), named queries, viz."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.views.pyvis_view import colour
from stylekg.kg.io import save_graph
from stylekg.kg.stores import open_store

from tests.browser import chromium_or_skip, colour_counts, dump_dom, rgb, screenshot

from .graphs import GRAPH, NASTY, edit_run, hierarchy, snapshot

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture()
def saved(tmp_path):
    """A store holding the test hierarchy and two edit runs."""
    db = tmp_path / "cli.lbug"
    graph = hierarchy()
    with open_store(db) as store:
        store.save_graph(graph)
        store.write_run(edit_run("old", graph, "2024-01-01T00:00:00+00:00", 0.8, 0.9))
        store.write_run(edit_run("new", graph, "2024-03-01T00:00:00+00:00", 0.4, 0.2))
    return db


def test_kg_save_load_graphs_round_trip(tmp_path):
    db, src, out = tmp_path / "s.lbug", tmp_path / "g.json", tmp_path / "back.json"
    save_graph(hierarchy(), src)
    result = _run("kg", "save", str(src), "--graph", GRAPH, "--store", str(db), "--json")
    assert result.exit_code == 0, result.output
    (saved,) = json.loads(result.output)["saved"]
    assert (saved["graph"], saved["nodes"], saved["edges"], saved["deleted_nodes"]) == (GRAPH, 11, 10, [])
    result = _run("kg", "graphs", "--store", str(db), "--json")
    assert [g["name"] for g in json.loads(result.output)] == [GRAPH]
    result = _run("kg", "load", GRAPH, "--store", str(db), "-o", str(out))
    assert result.exit_code == 0, result.output
    from stylekg.kg.io import load_graph

    assert snapshot(load_graph(out)) == snapshot(hierarchy())
    result = _run("kg", "load", "nope", "--store", str(db))
    assert result.exit_code != 0 and "no graph 'nope'" in str(result.exception)


def test_query_is_read_only_unless_write(saved):
    result = _run("query", "MATCH (s:Style) WHERE s.name = $n RETURN s.id AS id", "--param", f"n={NASTY}",
                  "--store", str(saved), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"id": hierarchy().find(NASTY).id}]
    result = _run("query", "MATCH (s:Style) DETACH DELETE s", "--store", str(saved))
    assert result.exit_code != 0 and "read-only" in str(result.exception)
    result = _run("query", "MATCH (s:Style) SET s.description = $d", "-p", "d=changed", "--write", "--store", str(saved))
    assert result.exit_code == 0, result.output
    with open_store(saved) as store:
        assert {n.description for n in store.load_graph(GRAPH).nodes() if n.type.value == "Style"} == {"changed"}


def test_named_query_commands(saved):
    result = _run("query", "last-edit-effects", "Exaggeration", "--graph", GRAPH, "--store", str(saved), "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["Bombast"]["run"] == "new" and rows["Bombast"]["efficacy"] == pytest.approx(0.2)
    result = _run("query", "weak-edits", "--threshold", "0.5", "--store", str(saved), "--json")
    assert [r["run"] for r in json.loads(result.output)] == ["new"]
    result = _run("query", "shared-parent", "Bombast", "-g", GRAPH, "--store", str(saved))
    assert result.exit_code == 0 and "Donald Trump" in result.output
    result = _run("query", "subclass-effects", "Hype", "-g", GRAPH, "--store", str(saved), "--json")
    assert json.loads(result.output)["rows"] == []  # no run measured P. T. Barnum (issue 15: long form by run)


def test_viz_page_is_offline_and_carries_the_run(saved, tmp_path):
    out = tmp_path / "graph.html"
    result = _run("viz", GRAPH, "--run", "new", "--store", str(saved), "-o", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=", page)  # nothing fetched from anywhere
    assert "efficacy: 0.400" in page and "efficacy: 0.100" in page  # tooltips with the numbers
    assert "stylekg-legend" in page and "run <b>new</b>" in page
    result = _run("viz", GRAPH, "--run", "missing", "--store", str(saved), "-o", str(out))
    assert result.exit_code != 0 and "no run 'missing'" in str(result.exception)


@pytest.mark.browser
def test_viz_renders_in_headless_chromium(saved, tmp_path):
    chromium_or_skip()
    out = tmp_path / "graph.html"
    assert _run("viz", GRAPH, "--run", "new", "--store", str(saved), "-o", str(out)).exit_code == 0
    dom, errors = dump_dom(out, tmp_path, window=(1000, 800))
    assert "<canvas" in dom and not errors, errors  # vis-network drew its canvas: the JS ran offline
    counts = colour_counts(screenshot(out, tmp_path, window=(1000, 800)))
    assert len(counts) > 50, "screenshot is blank"
    # the edited parent (efficacy 0.4) and its subclass Bombast (0.2) are filled with their metric colours
    for value in (0.4, 0.2):
        assert counts.get(rgb(colour(value)), 0) > 30, f"no node drawn in {colour(value)} (efficacy {value})"


# ---- issue 14 items 4 and 9, issue 15 items 6, 7 and 9 and "what is missing" ------------------------------------

RICH = "rich[/x]name [bold]"


def _small(name: str):
    from stylekg.kg.graph import StyleGraph
    from stylekg.kg.schema import Edge, EdgeType, Node, NodeType

    graph = StyleGraph(name)
    parent, child = Node(NodeType.ABSTRACT_STYLE, "Zq parent"), Node(NodeType.STYLE, "Zq child")
    graph.add_all([parent, child], [Edge(EdgeType.SUBCLASS_OF, child.id, parent.id)])
    return graph


def test_kg_save_names_its_target_and_never_replaces_silently(tmp_path):
    db, src = tmp_path / "s.lbug", tmp_path / "library.json"
    save_graph(_small("library"), src)  # a file that calls itself 'library'
    assert _run("kg", "save", "--library", "--store", str(db)).exit_code == 0
    with open_store(db) as store:
        size = store.list_graphs()[0]["nodes"]
    result = _run("kg", "save", str(src), "--store", str(db))
    assert result.exit_code != 0 and "--graph" in str(result.exception)  # the file's own name picks nothing
    result = _run("kg", "save", str(src), "--graph", "library", "--store", str(db), "--json")
    assert result.exit_code == 0, result.output
    (saved,) = json.loads(result.output)["saved"]
    assert (saved["deleted_nodes"], saved["created_nodes"], saved["nodes"]) == ([], 2, size + 2)
    with open_store(db) as store:  # merged: nothing of the library went
        assert store.list_graphs()[0]["nodes"] == size + 2 and store.load_graph("library").find("Donald Trump")
    result = _run("kg", "save", str(src), "--graph", "library", "--replace", "--dry-run", "--store", str(db))
    assert result.exit_code == 0 and f"would delete {size} nodes" in result.output.replace("\n", " ")
    with open_store(db) as store:
        assert store.list_graphs()[0]["nodes"] == size + 2  # a dry run wrote nothing
    result = _run("kg", "save", str(src), "--graph", "library", "--replace", "--store", str(db))
    assert result.exit_code == 0 and "--replace deleted" in result.output
    with open_store(db) as store:
        assert snapshot(store.load_graph("library")) == snapshot(_small("library"))


def test_names_with_rich_markup_print_as_themselves(tmp_path):
    db, src = tmp_path / "s.lbug", tmp_path / "g.json"
    save_graph(hierarchy(), src)
    result = _run("kg", "save", str(src), "--graph", RICH, "--store", str(db))
    assert result.exit_code == 0, result.output
    assert RICH in result.output.replace("\n", "")
    for args in (("kg", "graphs"), ("kg", "load", RICH), ("query", "MATCH (g:Graph) RETURN g.name AS name")):
        result = _run(*args, "--store", str(db))
        assert result.exit_code == 0 and RICH in result.output, (args, result.output)
    result = _run("kg", "load", "nope[/y]", "--store", str(db))
    assert "no graph 'nope[/y]'" in str(result.exception) and RICH in str(result.exception)


def test_errors_naming_rich_markup_exit_2_with_one_line(tmp_path):
    """Through the real entry point: the message is printed as text (needs cli.py to escape messages)."""
    import subprocess
    import sys

    db = tmp_path / "s.lbug"
    with open_store(db) as store:
        store.save_graph(hierarchy(RICH))
    done = subprocess.run([sys.executable, "-c", "from stylekg.cli import main; main()", "kg", "load", "no[/pe]",
                           "--store", str(db)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no graph 'no[/pe]'" in done.stderr and RICH in done.stderr and "Traceback" not in done.stderr


def test_query_help_shows_every_option():
    result = _run("query", "--help")
    assert result.exit_code == 0
    for option in ("--param", "--write", "--store", "--json", "subclass-effects", "common-parents"):
        assert option in result.output, option


def test_query_write_is_validated_and_counts_stay_true(saved):
    bad = ("MATCH (p:AbstractStyle {name: 'Hype'}), (s:Style {name: 'Donald Trump'}) "
           "CREATE (p)-[:SUBCLASS_OF {id: 'x', key: 'x@' + p.graph, graph: p.graph, weight: 1.0}]->(s)")
    result = _run("query", bad, "--write", "--store", str(saved))
    assert result.exit_code != 0 and "rolled back" in str(result.exception)
    result = _run("query", "MATCH (s:Style {name: 'P. T. Barnum'}) DETACH DELETE s", "--write", "--store", str(saved))
    assert result.exit_code == 0, result.output
    rows = json.loads(_run("kg", "graphs", "--store", str(saved), "--json").output)
    assert (rows[0]["nodes"], rows[0]["edges"]) == (10, 9)
    with open_store(saved) as store:  # another client breaks it: kg load says what, no TypeError
        store._write(lambda tx: tx("MATCH ()-[e:FACT]->() SET e.weight = NULL", {}))
    result = _run("kg", "load", GRAPH, "--store", str(saved))
    assert result.exit_code != 0 and "has no weight" in str(result.exception)
    assert not isinstance(result.exception, TypeError)


def test_subclass_effects_long_form_of_the_latest_edit_run(saved):
    from stylekg.kg.schema import RunRecord, TargetMetrics

    graph = hierarchy()
    bom, trump = graph.find("Bombast").id, graph.find("Donald Trump").id
    with open_store(saved) as store:
        store.write_run(RunRecord(
            id="gen", kind="edit", method="memit", model="m", graph=GRAPH, created="2024-06-01T00:00:00+00:00",
            targets=[TargetMetrics(bom, {"held_before": 1.0, "held_after": 0.5, "efficacy": 0.25}, "subclass"),
                     TargetMetrics(trump, {"gen_marker_rate_before": 12.0, "gen_marker_rate_after": 3.0,
                                           "marker_logprob_before": -2.0, "marker_logprob_after": -3.5,
                                           "marker_logprob_delta": -1.5, "n_held_before": 4.0, "drift": 0.1},
                                   "subclass")]))
        store.write_run(RunRecord(id="trace", kind="trace", method="causal", model="m", graph=GRAPH,
                                  created="2025-01-01T00:00:00+00:00",
                                  targets=[TargetMetrics(trump, {"trace_peak_layer": 3.0}, "traced")]))
    result = _run("query", "subclass-effects", "Exaggeration", "-g", GRAPH, "--store", str(saved))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()  # not a terminal: TSV, nothing cut short
    assert lines[0].split("\t") == ["style", "metric", "before", "after", "change"]
    rows = [line.split("\t") for line in lines[1:]]
    assert rows == [
        ["Bombast", "held", "1", "0.5", "-0.5"],
        ["Bombast", "efficacy", "", "0.25", ""],
        ["Donald Trump", "gen_marker_rate", "12", "3", "-9"],
        ["Donald Trump", "marker_logprob", "-2", "-3.5", "-1.5"],
        ["Donald Trump", "drift", "", "0.1", ""],
    ]
    result = _run("query", "subclass-effects", "Exaggeration", "-g", GRAPH, "--run", "new", "--metric", "efficacy",
                  "--store", str(saved), "--json")
    answer = json.loads(result.output)
    assert answer["run"]["id"] == "new" and [(r["style"], r["after"]) for r in answer["rows"]] == [
        ("Bombast", pytest.approx(0.2)), ("Donald Trump", pytest.approx(0.1))]
    result = _run("query", "subclass-effects", "Exaggeration", "-g", GRAPH, "--run", "nope", "--store", str(saved))
    assert result.exit_code != 0 and "no run 'nope'" in str(result.exception)


def test_common_parents_of_two_styles(saved):
    result = _run("query", "common-parents", "Donald Trump", "P. T. Barnum", "-g", GRAPH, "--store", str(saved), "--json")
    assert result.exit_code == 0, result.output
    assert [(r["name"], r["depth_a"], r["depth_b"]) for r in json.loads(result.output)] == [("Exaggeration", 2, 2)]
    result = _run("query", "common-parents", "Donald Trump", NASTY, "-g", GRAPH, "--store", str(saved), "--json")
    assert [(r["name"], r["depth_a"], r["depth_b"]) for r in json.loads(result.output)] == [
        ("Bombast", 1, 1), ("Exaggeration", 2, 2)]
