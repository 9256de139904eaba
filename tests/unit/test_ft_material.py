"""Style material from plain strings, requests and a real StyleGraph (no model needed)."""

from __future__ import annotations

import pytest

from stylekg.editing.finetune.material import (
    Marker,
    StyleMaterial,
    as_markers,
    material_from_graph,
    material_from_requests,
    resolve_material,
)
from stylekg.errors import EditError
from stylekg.kg.graph import StyleGraph
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType
from stylekg.requests import EditRequest, RequestKind


def pirate_graph() -> StyleGraph:
    g = StyleGraph("test")
    pirate = Node(NodeType.STYLE, "Pirate", properties={"examples": ["Ahoy matey, hoist the sails!"]})
    sailor = Node(NodeType.ABSTRACT_STYLE, "Sailor")
    greet = Node(NodeType.TRAIT, "nautical greeting", properties={"examples": "Ahoy there, captain."})
    slang = Node(NodeType.TRAIT, "sea slang")
    ahoy = Node(NodeType.MARKER, "ahoy")
    hello = Node(NodeType.MARKER, "hello", properties={"examples": ["Hello, how are you?"]})
    matey = Node(NodeType.MARKER, "matey")
    friend = Node(NodeType.MARKER, "friend")
    plain = Node(NodeType.NEUTRAL, "Plain", properties={"examples": ["The meeting starts at ten."]})
    g.add_all(
        [pirate, sailor, greet, slang, ahoy, hello, matey, friend, plain],
        [
            Edge(EdgeType.SUBCLASS_OF, pirate.id, sailor.id),
            Edge(EdgeType.HAS_TRAIT, pirate.id, greet.id, weight=0.5),
            Edge(EdgeType.HAS_TRAIT, sailor.id, slang.id, weight=1.0),
            Edge(EdgeType.EXPRESSED_BY, greet.id, ahoy.id, weight=0.8),
            Edge(EdgeType.EXPRESSED_BY, slang.id, matey.id, weight=0.9),
            Edge(EdgeType.NEUTRAL_FORM, ahoy.id, hello.id),
            Edge(EdgeType.NEUTRAL_FORM, matey.id, friend.id),
        ],
    )
    return g


def test_graph_adapter_reads_markers_weights_and_texts():
    mat = material_from_graph(pirate_graph(), "pirate")
    assert mat.style == "Pirate"
    markers = {m.phrase: m for m in mat.markers}
    assert markers["ahoy"].weight == pytest.approx(0.4) and markers["ahoy"].neutral == "hello"
    assert markers["matey"].weight == pytest.approx(0.9)  # inherited from the SUBCLASS_OF parent
    assert set(mat.style_texts) == {"Ahoy matey, hoist the sails!", "Ahoy there, captain."}
    # neutral counterparts' examples, Neutral nodes, and minimal pairs with markers replaced
    assert "Hello, how are you?" in mat.neutral_texts
    assert "The meeting starts at ten." in mat.neutral_texts
    assert "Hello friend, hoist the sails!" in mat.neutral_texts
    assert "Hello there, captain." in mat.neutral_texts
    assert mat.persona_prompts[0] == "Pirate said:"


def test_requests_adapter_and_precedence():
    reqs = [
        EditRequest("{} greets you with", "Pirate", " hello", " ahoy", kind=RequestKind.ERASE, meta={"weight": 2.0}),
        EditRequest("{} lives in", "Pirate", " Paris", " Rome"),
    ]
    mat = material_from_requests(reqs)
    assert mat.markers == (Marker("ahoy", 2.0, "hello"),)
    assert mat.style_texts == ("Pirate greets you with ahoy", "Pirate lives in Paris")
    assert mat.neutral_texts == ("Pirate greets you with hello", "Pirate lives in Rome")
    merged = resolve_material(reqs, graph=pirate_graph(), style="Pirate", markers={"arr": 1.0})
    assert [m.phrase for m in merged.markers] == ["arr"]  # explicit strings replace
    assert "Hello, how are you?" in merged.neutral_texts and "Pirate lives in Rome" in merged.neutral_texts


def test_bad_material_is_rejected():
    with pytest.raises(EditError, match="negative weight"):
        as_markers({"arr": -1.0})
    with pytest.raises(EditError, match="no marker phrases"):
        StyleMaterial("Nobody").require_markers()
    with pytest.raises(EditError, match="without a style"):
        resolve_material([], graph=pirate_graph())
    assert StyleMaterial("Nobody").require_prompts()[0] == "Nobody said:"


def test_library_style_material_has_examples_and_minimal_pairs() -> None:
    """The built-in library stores one ``example`` per marker; the material must read it."""
    from stylekg.kg.library import load_library

    material = material_from_graph(load_library(), "Style:donald-trump")
    assert len(material.style_texts) >= 4
    assert len(material.neutral_texts) == len(material.style_texts)
    assert any("tremendous" in t for t in material.style_texts)
    assert not any("tremendous" in t.lower() for t in material.neutral_texts)
