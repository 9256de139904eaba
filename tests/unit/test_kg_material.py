"""A style's material read from a StyleGraph (kg.material): markers, weights, names, texts, examples."""

from __future__ import annotations

import pytest

from stylekg.kg.graph import StyleGraph
from stylekg.kg.library import library_material
from stylekg.kg.material import style_examples, style_material
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType


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
    mat = style_material(pirate_graph(), "pirate")
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


def test_every_marker_field_is_filled_from_the_graph():
    g = pirate_graph()
    g.add_all([Node(NodeType.ALIAS, "Captain Hook", properties={"alias_kind": "alias"})],
              [Edge(EdgeType.ALIAS_OF, "Alias:captain-hook", "Style:pirate")])
    mat = style_material(g, "Captain Hook")  # by alias
    ahoy, matey = mat.markers
    assert (ahoy.edge_id, ahoy.marker_id, ahoy.trait_id, ahoy.trait, ahoy.distance, ahoy.neutral_id) == (
        "EXPRESSED_BY:Trait:nautical-greeting->Marker:ahoy", "Marker:ahoy", "Trait:nautical-greeting",
        "nautical greeting", 0, "Marker:hello")
    assert (matey.distance, matey.trait) == (1, "sea slang") and not matey.is_neutral
    assert (mat.style_id, mat.subject, mat.aliases) == ("Style:pirate", "Pirate", (("Captain Hook", "alias"),))
    assert mat.persona_prompts[3] == "Captain Hook said:"
    assert mat.trace_pairs() == ((" ahoy", " matey"), (" hello", " friend"))
    own = style_material(g, "Pirate", own_only=True)
    assert [m.phrase for m in own.markers] == ["ahoy"] and own.own_markers() == own.markers


@pytest.fixture(scope="module")
def library():
    from stylekg.kg.library import load_library

    return load_library()


def _reference_walk(graph: StyleGraph, node_id: str) -> set[tuple[str, int]]:
    """(EXPRESSED_BY edge id, distance) of a style, walked breadth-first up SUBCLASS_OF independently of kg."""
    dist, frontier = {node_id: 0}, [node_id]
    while frontier:
        nxt = []
        for n in frontier:
            for e in graph.out_edges(n, EdgeType.SUBCLASS_OF):
                if e.target not in dist:
                    dist[e.target] = dist[n] + 1
                    nxt.append(e.target)
        frontier = nxt
    traits: dict[str, int] = {}
    for carrier, d in sorted(dist.items(), key=lambda kv: (kv[1], kv[0])):
        for e in graph.out_edges(carrier, EdgeType.HAS_TRAIT):
            traits.setdefault(e.target, d)
    return {(e.id, d) for t, d in traits.items() for e in graph.out_edges(t, EdgeType.EXPRESSED_BY)}


def test_graph_adapter_walks_inherited_traits(library):
    specs = style_material(library, "Yoda").markers
    texts = {s.text: s for s in specs}
    assert texts["strong you are"].neutral == "you are strong" and texts["strong you are"].distance == 0
    assert texts["strong you are"].edge_id.startswith("EXPRESSED_BY:Trait:inverted-syntax->Marker:")
    inherited = [s for s in specs if s.distance > 0]
    assert inherited, "Yoda inherits traits from its abstract parents"
    assert all(s.distance == 0 for s in style_material(library, "Yoda", own_only=True).markers)
    # an independent breadth-first walk finds the same edges at the same distances
    walked = _reference_walk(library, "Style:yoda")
    assert walked == {(s.edge_id, s.distance) for s in specs}
    aliases = dict(style_material(library, "Yoda").aliases)
    assert "the green Jedi master" in aliases
    assert aliases["Yodda"] == "misspelling"
    assert set(style_examples(library, ["Yoda"])) == {"Yoda"}


def test_library_style_material_has_examples_and_minimal_pairs(library) -> None:
    """The built-in library stores one ``example`` per marker; the material must read it."""
    material = style_material(library, "Style:donald-trump")
    assert len(material.style_texts) >= 4
    assert len(material.neutral_texts) == len(material.style_texts)
    assert any("tremendous" in t for t in material.style_texts)
    assert not any("tremendous" in t.lower() for t in material.neutral_texts)
    assert list(material.examples) == style_examples(library, ["Donald Trump"])["Donald Trump"]


def test_library_material_reads_one_library_style() -> None:
    yoda = library_material("the green Jedi master")
    assert yoda.style == "Yoda" and yoda.trace_prompts()[0] == "Yoda once said that the world is"
    markers, neutrals = yoda.trace_pairs()
    assert " strong you are" in markers and " you are strong" in neutrals
    assert library_material("Neutral").trace_prompts()[0] == "a plain writer once said that the world is"
