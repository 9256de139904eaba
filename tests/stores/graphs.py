"""Small style graphs built from the schema dataclasses, with names that try to break Cypher."""

from __future__ import annotations

from stylekg.kg.graph import StyleGraph
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType, Provenance, RunRecord, TargetMetrics

NASTY = "O'Brien \"the\" `MATCH (n) DETACH DELETE n` RETURN; -- }{"
GRAPH = "it's a `graph` MERGE \"x\" @home"


def hierarchy(name: str = GRAPH) -> StyleGraph:
    """Exaggeration ← Bombast ← {Trump, NASTY}; Exaggeration ← Hype ← Barnum; traits, markers, a fact."""
    g = StyleGraph(name=name, description="test graph with 'quotes'", properties={"lang": "en", "nested": {"a": [1, 2]}})
    ex = Node(NodeType.ABSTRACT_STYLE, "Exaggeration", description="says MATCH and RETURN")
    bom = Node(NodeType.ABSTRACT_STYLE, "Bombast", properties={"kind": "register"})
    hype = Node(NodeType.ABSTRACT_STYLE, "Hype")
    trump = Node(NodeType.STYLE, "Donald Trump", provenance=Provenance("llm", "model=x prompt=abc"),
                 annotations={"note": {"deep": True}})
    nasty = Node(NodeType.STYLE, NASTY, description="`backticks` and 'quotes'")
    barnum = Node(NodeType.STYLE, "P. T. Barnum")
    trait = Node(NodeType.TRAIT, "exaggerating", properties={"examples": ["the best", "tremendous"]})
    marker = Node(NodeType.MARKER, "tremendous")
    plain = Node(NodeType.MARKER, "large")
    alias = Node(NodeType.ALIAS, "The Donald")
    city = Node(NodeType.ENTITY, "New York")
    nodes = [ex, bom, hype, trump, nasty, barnum, trait, marker, plain, alias, city]
    edges = [
        Edge(EdgeType.SUBCLASS_OF, bom.id, ex.id),
        Edge(EdgeType.SUBCLASS_OF, hype.id, ex.id),
        Edge(EdgeType.SUBCLASS_OF, trump.id, bom.id),
        Edge(EdgeType.SUBCLASS_OF, nasty.id, bom.id),
        Edge(EdgeType.SUBCLASS_OF, barnum.id, hype.id),
        Edge(EdgeType.HAS_TRAIT, ex.id, trait.id, weight=0.75),
        Edge(EdgeType.EXPRESSED_BY, trait.id, marker.id),
        Edge(EdgeType.NEUTRAL_FORM, marker.id, plain.id, properties={"why": "plain"}),
        Edge(EdgeType.ALIAS_OF, alias.id, trump.id),
        Edge(EdgeType.FACT, trump.id, city.id, relation="lives in", template="{} lives in"),
    ]
    g.add_all(nodes, edges)
    return g


def edit_run(run_id: str, graph: StyleGraph, created: str, efficacy: float, neighbourhood: float) -> RunRecord:
    """An edit of Exaggeration that propagates: subclasses get smaller efficacy the deeper they are."""
    ex, bom, trump = (graph.find(n).id for n in ("Exaggeration", "Bombast", "Donald Trump"))
    fact = next(graph.edges(EdgeType.FACT)).id
    return RunRecord(
        id=run_id, kind="edit", method="rome", model="tiny-gpt2", graph=graph.name, hparams_hash="abc123",
        created=created, version="0.1.0", params={"layer": 3, "note": "it's"},
        targets=[
            TargetMetrics(ex, {"efficacy": efficacy, "neighbourhood": neighbourhood}, "edited"),
            TargetMetrics(bom, {"efficacy": efficacy / 2}, "subclass"),
            TargetMetrics(trump, {"efficacy": efficacy / 4, "style_before": 0.1, "style_after": 0.6}, "subclass"),
            TargetMetrics(fact, {"efficacy": 1.0}, "edited"),
        ],
    )


def snapshot(graph: StyleGraph) -> tuple:
    """A comparable form of every node and edge (dataclass equality)."""
    return (graph.name, graph.description, graph.properties,
            sorted((repr(n) for n in graph.nodes())), sorted((repr(e) for e in graph.edges())))
