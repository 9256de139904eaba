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
    result = _run("kg", "save", str(src), "--store", str(db), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["saved"] == [{"graph": GRAPH, "nodes": 11, "edges": 10}]
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
    assert [r["name"] for r in json.loads(result.output)] == ["P. T. Barnum"]


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
