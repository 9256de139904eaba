"""StyleGraph validation: every rejected change names the culprit and leaves the graph as it was."""

from __future__ import annotations

import pytest

from stylekg.errors import GraphError
from stylekg.kg import Edge, EdgeType, Node, NodeType, StyleGraph
from stylekg.kg.jsonform import to_dict


def _small() -> StyleGraph:
    g = StyleGraph("t")
    g.add_all(
        [Node(NodeType.ABSTRACT_STYLE, "Exaggeration"), Node(NodeType.ABSTRACT_STYLE, "Rhetoric"),
         Node(NodeType.STYLE, "Donald Trump"), Node(NodeType.ENTITY, "New York")],
        [Edge(EdgeType.SUBCLASS_OF, "AbstractStyle:exaggeration", "AbstractStyle:rhetoric"),
         Edge(EdgeType.SUBCLASS_OF, "Style:donald-trump", "AbstractStyle:exaggeration"),
         Edge(EdgeType.FACT, "Style:donald-trump", "Entity:new-york", relation="born in", template="{} was born in")],
    )
    return g


def test_cycle_rejected_and_graph_unchanged():
    g = _small()
    before = to_dict(g)
    with pytest.raises(GraphError, match="cycle"):
        g.add_all([], [Edge(EdgeType.SUBCLASS_OF, "AbstractStyle:rhetoric", "AbstractStyle:exaggeration")])
    assert to_dict(g) == before


def test_edge_to_missing_node_names_it():
    g = _small()
    before = to_dict(g)
    with pytest.raises(GraphError, match="AbstractStyle:nowhere"):
        g.add_all([Node(NodeType.TRAIT, "Hyperbole")],
                  [Edge(EdgeType.HAS_TRAIT, "Style:donald-trump", "Trait:hyperbole"),
                   Edge(EdgeType.SUBCLASS_OF, "Style:donald-trump", "AbstractStyle:nowhere")])
    assert to_dict(g) == before and "Trait:hyperbole" not in g


def test_template_without_placeholder_rejected():
    g = _small()
    with pytest.raises(GraphError, match="without '\\{\\}'"):
        g.add_edge(Edge(EdgeType.FACT, "Style:donald-trump", "Entity:new-york", relation="lives", template="lives in"))


def test_unknown_node_type_rejected():
    with pytest.raises(ValueError):
        Node("Wizard", "Gandalf")


def test_edge_lookup_fast_path_and_fallback():
    g = _small()
    fact = next(g.edges(EdgeType.FACT))
    assert g.edge(fact.id) is fact
    custom = Edge(EdgeType.SUBCLASS_OF, "AbstractStyle:rhetoric", "AbstractStyle:exaggeration", id="weird-id")
    with pytest.raises(GraphError, match="no edge"):
        g.edge("weird-id")
    g2 = StyleGraph("c")
    g2.add_all([Node(NodeType.ABSTRACT_STYLE, "A"), Node(NodeType.ABSTRACT_STYLE, "B")],
               [Edge(EdgeType.SUBCLASS_OF, "AbstractStyle:a", "AbstractStyle:b", id="custom")])
    assert g2.edge("custom").target == "AbstractStyle:b"
    assert custom.id == "weird-id"


def test_merge_copy_remove_and_version():
    g = _small()
    other = StyleGraph("o")
    other.add_all([Node(NodeType.STYLE, "Donald Trump"), Node(NodeType.ALIAS, "The Donald")],
                  [Edge(EdgeType.ALIAS_OF, "Alias:the-donald", "Style:donald-trump")])
    v = g.version
    nodes, edges = g.merge(other)
    assert nodes == ["Alias:the-donald"] and len(edges) == 1 and g.version > v
    assert g.aliases_of("Style:donald-trump") == ["The Donald"]
    c = g.copy()
    c.remove_edge(edges[0])
    assert g.aliases_of("Style:donald-trump") == ["The Donald"] and c.aliases_of("Style:donald-trump") == []
    g.validate()
    assert g.stats()["node_types"]["Alias"] == 1


def test_around_is_the_undirected_neighbourhood():
    g = _small()
    some = next(iter(g.nx.nodes))
    assert some in g.around(some, 0) and g.around(some, 0) == {some}
    assert g.around(some, 1) == {some} | set(g.nx.successors(some)) | set(g.nx.predecessors(some))
