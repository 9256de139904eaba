"""Inheritance queries on the library and on a generated deep hierarchy."""

from __future__ import annotations

import time

from stylekg.kg import Edge, EdgeType, Node, NodeType, StyleGraph
from stylekg.kg.inheritance import (ancestors, effective_markers, effective_traits, hierarchy,
                                    lowest_common_parents, resolve_style, subclasses)
from stylekg.kg.library import load_library


def test_effective_traits_include_ancestors_nearest_first():
    g = load_library()
    traits = effective_traits(g, "Yoda")
    own = [t.id for t in traits if t.distance == 0]
    assert set(own) == {"Trait:inverted-syntax", "Trait:wise-jedi-counsel"}
    inherited = {t.id: t for t in traits if t.distance > 0}
    assert inherited["Trait:archaic-word-order"].via == "AbstractStyle:archaic-inverted-syntax"
    assert [t.distance for t in traits] == sorted(t.distance for t in traits)
    markers = {m.id for m in effective_markers(g, "Donald Trump")}
    assert {"Marker:tremendous", "Marker:the-best-ever", "Marker:very-very"} <= markers  # own, parent, grandparent


def test_subclasses_any_depth_and_ancestors():
    g = load_library()
    styles = subclasses(g, "Emphatic rhetoric", NodeType.STYLE)
    assert {"Style:donald-trump", "Style:barack-obama", "Style:homer-simpson"} <= set(styles)
    assert "Style:yoda" not in styles
    assert ancestors(g, "Donald Trump")[:2] == sorted(["AbstractStyle:exaggeration", "AbstractStyle:political-oratory"])
    assert "AbstractStyle:spoken-voice" in ancestors(g, "Donald Trump")


def test_lowest_common_parents():
    g = load_library()
    assert lowest_common_parents(g, "Donald Trump", "Homer Simpson") == ["AbstractStyle:exaggeration"]
    assert lowest_common_parents(g, "Donald Trump", "Barack Obama") == ["AbstractStyle:political-oratory"]
    assert lowest_common_parents(g, "Yoda", "J.R.R. Tolkien") == ["AbstractStyle:archaic-inverted-syntax"]
    assert lowest_common_parents(g, "Stephen King", "Stephenie Meyer") == ["AbstractStyle:gothic-suspense"]
    assert lowest_common_parents(g, "Yoda", "Stephen King") == []


def test_resolve_by_alias_and_misspelling():
    g = load_library()
    assert resolve_style(g, "Yodda") == "Style:yoda"
    assert resolve_style(g, "the green Jedi master") == "Style:yoda"
    assert resolve_style(g, "Style:yoda") == "Style:yoda"


def _chain_tree(n: int) -> StyleGraph:
    g = StyleGraph("gen")
    nodes = [Node(NodeType.ABSTRACT_STYLE, f"a{i}") for i in range(n)]
    edges = [Edge(EdgeType.SUBCLASS_OF, f"AbstractStyle:a{i}", f"AbstractStyle:a{(i - 1) // 2}") for i in range(1, n)]
    g.add_all(nodes, edges)
    return g


def test_memo_is_invalidated_by_mutation_and_queries_are_fast():
    g = _chain_tree(4000)
    h = hierarchy(g)
    assert hierarchy(g) is h
    t0 = time.perf_counter()
    total = sum(len(h.ancestors(f"AbstractStyle:a{i}")) for i in range(4000))
    elapsed = time.perf_counter() - t0
    assert total > 4000 * 8  # a binary tree of depth ~12
    assert elapsed < 2.0
    assert len(h.subclasses("AbstractStyle:a0")) == 3999
    g.add_node(Node(NodeType.STYLE, "leaf"))
    g.add_edge(Edge(EdgeType.SUBCLASS_OF, "Style:leaf", "AbstractStyle:a3999"))
    h2 = hierarchy(g)
    assert h2 is not h and len(h2.subclasses("AbstractStyle:a0")) == 4000
