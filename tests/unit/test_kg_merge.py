"""Issue 15 item 4: merges resolve entities by type and normalised name, refuse conflicts with the list, report
every change, and ``--dry-run`` shows the diff; item 9: ``import --into`` prints the imported file's counts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.errors import GraphError
from stylekg.kg import Edge, EdgeType, Node, NodeType, StyleGraph
from stylekg.kg.io import import_into, load_graph, save_graph
from stylekg.kg.jsonform import to_dict
from stylekg.kg.library import library_style

runner = CliRunner()


def _target() -> StyleGraph:
    """Exaggeration <- Trump; the marker 'tremendous' has the neutral form 'good'."""
    g = StyleGraph("target")
    g.add_all(
        [Node(NodeType.ABSTRACT_STYLE, "Exaggeration", "Inflating everything."),
         Node(NodeType.STYLE, "Trump", properties={"kind": "person"}),
         Node(NodeType.TRAIT, "Superlatives"), Node(NodeType.MARKER, "tremendous"), Node(NodeType.MARKER, "good"),
         Node(NodeType.ALIAS, "The Donald", id="Alias:the-donald-of-trump")],
        [Edge(EdgeType.SUBCLASS_OF, "Style:trump", "AbstractStyle:exaggeration"),
         Edge(EdgeType.HAS_TRAIT, "Style:trump", "Trait:superlatives"),
         Edge(EdgeType.EXPRESSED_BY, "Trait:superlatives", "Marker:tremendous"),
         Edge(EdgeType.NEUTRAL_FORM, "Marker:tremendous", "Marker:good"),
         Edge(EdgeType.ALIAS_OF, "Alias:the-donald-of-trump", "Style:trump")])
    return g


def test_same_name_under_another_id_is_refused_with_the_conflict_listed():
    target, other = _target(), StyleGraph("file")
    other.add_all([Node(NodeType.ABSTRACT_STYLE, "Exaggeration", id="AbstractStyle:exaggeration-2"),
                   Node(NodeType.STYLE, "Baron")],
                  [Edge(EdgeType.SUBCLASS_OF, "Style:baron", "AbstractStyle:exaggeration-2")])
    before = to_dict(target)
    with pytest.raises(GraphError) as info:
        target.merge(other)
    assert "AbstractStyle 'Exaggeration' is AbstractStyle:exaggeration here but AbstractStyle:exaggeration-2" in str(info.value)
    assert to_dict(target) == before  # nothing merged
    assert len(target.named("exaggeration", [NodeType.ABSTRACT_STYLE])) == 1
    # with a policy, the clash is matched to the node already here: one Exaggeration, Baron below it
    plan = target.merge(other, on_conflict="ours")
    assert plan.matched == {"AbstractStyle:exaggeration-2": "AbstractStyle:exaggeration"}
    assert target.find("Exaggeration").id == "AbstractStyle:exaggeration"
    assert [e.target for e in target.out_edges("Style:baron", EdgeType.SUBCLASS_OF)] == ["AbstractStyle:exaggeration"]


def test_differing_properties_on_clashing_ids_are_conflicts_and_each_change_is_reported():
    target, other = _target(), StyleGraph("file")
    other.add_all([Node(NodeType.ABSTRACT_STYLE, "Exaggeration", "Something else."),
                   Node(NodeType.STYLE, "Trump", "A rally speaker.", {"kind": "character", "domain": "speech"})])
    with pytest.raises(GraphError) as info:
        target.merge(other)
    text = str(info.value)
    assert "2 conflicts" in text
    assert "AbstractStyle:exaggeration description is 'Inflating everything.' here but 'Something else.'" in text
    assert "Style:trump properties.kind is 'person' here but 'character'" in text
    plan = target.merge(other, dry_run=True, on_conflict="ours")  # what would change, nothing written
    assert [(c.target, c.field, c.applied) for c in plan.changes] == [
        ("AbstractStyle:exaggeration", "description", False), ("Style:trump", "description", True),
        ("Style:trump", "properties.domain", True), ("Style:trump", "properties.kind", False)]
    assert target.node("Style:trump").description == ""
    plan = target.merge(other, on_conflict="theirs")
    assert all(c.applied for c in plan.changes) and len(plan.changes) == 4
    trump = target.node("Style:trump")
    assert (trump.description, trump.properties) == ("A rally speaker.", {"kind": "character", "domain": "speech"})
    assert "~ Style:trump properties.kind: 'person' → 'character'" in plan.diff()


def test_a_marker_with_two_neutral_forms_is_refused():
    target, other = _target(), StyleGraph("file")
    other.add_all([Node(NodeType.MARKER, "tremendous"), Node(NodeType.MARKER, "great")],
                  [Edge(EdgeType.NEUTRAL_FORM, "Marker:tremendous", "Marker:great")])
    with pytest.raises(GraphError, match="marker 'tremendous' would have two neutral forms: 'good' \\(here\\) and 'great'"):
        target.merge(other)
    plan = target.merge(other, on_conflict="ours")  # ours: the neutral form here stays, theirs is left out
    assert [e.target for e in target.out_edges("Marker:tremendous", EdgeType.NEUTRAL_FORM)] == ["Marker:good"]
    assert plan.kept[0].field == "neutral form"
    # one file alone may not give a marker two neutral forms either
    data = to_dict(_target())
    data["nodes"].append({"type": "Marker", "name": "great"})
    data["edges"].append({"type": "NEUTRAL_FORM", "source": "Marker:tremendous", "target": "Marker:great"})
    from stylekg.kg.jsonform import from_dict

    with pytest.raises(GraphError, match="has 2 neutral forms"):
        from_dict(data, "two.json")


def test_matches_by_type_and_name_fills_in_and_aliases_match_by_style():
    target, other = _target(), StyleGraph("file")
    other.add_all([Node(NodeType.STYLE, "trump", "A rally speaker."),  # same entity: case and spacing aside
                   Node(NodeType.ALIAS, "the  donald"),  # another id, same alias of the same style
                   Node(NodeType.ALIAS, "Donny")],
                  [Edge(EdgeType.ALIAS_OF, "Alias:the-donald", "Style:trump"),
                   Edge(EdgeType.ALIAS_OF, "Alias:donny", "Style:trump")])
    plan = target.merge(other)
    assert plan.matched == {"Alias:the-donald": "Alias:the-donald-of-trump"}
    assert plan.added_nodes == ["Alias:donny"] and plan.added_edges == ["ALIAS_OF:Alias:donny->Style:trump"]
    assert [(c.field, c.old, c.new) for c in plan.changes] == [("description", "", "A rally speaker.")]
    assert sorted(target.aliases_of("Style:trump")) == ["Donny", "The Donald"]
    nodes, edges = target.merge(other)  # a plan unpacks as (added nodes, added edges); merging again adds nothing
    assert (nodes, edges) == ([], [])


def test_import_into_keeps_the_target_unchanged_on_refusal():
    target = library_style("Yoda")
    other = library_style("Donald Trump")
    other.add_node(Node(NodeType.TRAIT, "Inverted syntax", "Not Yoda's description."), replace=True)
    before = to_dict(target)
    with pytest.raises(GraphError, match="Trait:inverted-syntax description"):
        import_into(target, other)
    assert to_dict(target) == before


def _hand_written(tmp_path, nodes, edges, name="pirates"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"format": "stylekg-graph", "version": 1, "name": name, "nodes": nodes, "edges": edges}))
    return path


def test_cli_import_prints_the_files_counts_and_the_dry_run_diff(tmp_path):
    into = tmp_path / "yoda.json"
    save_graph(library_style("Yoda"), into)
    target_nodes = len(load_graph(into))
    src = _hand_written(tmp_path, [{"type": "Style", "name": "Captain Jack Sparrow"},
                                   {"type": "AbstractStyle", "name": "Cosmic wonder"}],
                        [{"type": "SUBCLASS_OF", "source": "Captain Jack Sparrow", "target": "Cosmic wonder"}])
    res = runner.invoke(app, ["kg", "import", str(src), "--into", str(into), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "+ node Style:captain-jack-sparrow" in res.output
    assert "+ edge SUBCLASS_OF:Style:captain-jack-sparrow->AbstractStyle:cosmic-wonder" in res.output
    assert len(load_graph(into)) == target_nodes  # a dry run writes nothing
    res = runner.invoke(app, ["kg", "import", str(src), "--into", str(into), "--json"])
    summary = json.loads(res.output)
    assert (summary["nodes"], summary["edges"]) == (2, 1)  # the imported file's counts …
    assert summary["target"] == {"nodes": target_nodes + 1, "edges": load_graph(into).number_of_edges()}  # … and the target's
    res = runner.invoke(app, ["kg", "import", str(src), "--into", str(into)])
    assert f"valid {src}: 2 nodes, 1 edges" in res.output.replace("\n", " ")


def test_cli_import_refuses_a_conflict_with_the_list_and_exit_2(tmp_path):
    import subprocess
    import sys

    into = tmp_path / "yoda.json"
    save_graph(library_style("Yoda"), into)
    src = _hand_written(tmp_path, [{"type": "AbstractStyle", "name": "Cosmic Wonder", "id": "AbstractStyle:cw"},
                                   {"type": "Trait", "name": "Inverted syntax", "description": "Other words."}], [])
    before = into.read_text()
    res = runner.invoke(app, ["kg", "import", str(src), "--into", str(into), "--dry-run"])
    assert "! AbstractStyle 'Cosmic Wonder' is AbstractStyle:cosmic-wonder here but AbstractStyle:cw" in res.output
    assert "! Trait:inverted-syntax description is" in res.output
    proc = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "import", str(src), "--into", str(into)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "refused: 2 conflicts" in proc.stderr
    assert into.read_text() == before
    res = runner.invoke(app, ["kg", "import", str(src), "--into", str(into), "--on-conflict", "theirs", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["changed"] == 1


def test_a_different_name_under_the_same_id_is_a_conflict_theirs_renames():
    target, other = _target(), StyleGraph("file")
    other.add_node(Node(NodeType.STYLE, "Donald", id="Style:trump"))
    with pytest.raises(GraphError, match="Style:trump name is 'Trump' here but 'Donald'"):
        target.merge(other)
    plan = target.merge(other, on_conflict="theirs")
    assert plan.diff() == ["~ Style:trump name: 'Trump' → 'Donald'"] and target.node("Style:trump").name == "Donald"
