"""A style graph from mined phrases: markers under traits, neutral forms, and the occurrences as evidence.

Input is plain data (phrases with their log-odds scores, where the model wrote them, a neutral form and a trait
for each); the output is a reviewable :class:`StyleGraph` that ``stylekg kg import`` merges. Each marker's
``EXPRESSED_BY`` edge carries up to ``max_evidence`` occurrences (the prompt and the answer up to the marker):
the contexts that edit requests and fine-tuning data are later built from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .graph import StyleGraph
from .schema import Edge, EdgeType, Node, NodeType, Provenance

DEFAULT_TRAIT = "Over-used phrases"


@dataclass(frozen=True)
class MinedMarker:
    """One proposed marker: the phrase, its statistics, its neutral form and trait, and where it was written."""

    phrase: str
    z: float
    count: int
    count_reference: int
    documents: int
    neutral: str | None = None
    trait: str = DEFAULT_TRAIT
    occurrences: tuple[Mapping[str, str], ...] = ()  # {"prompt", "prefix", "written"}


@dataclass(frozen=True)
class MinedStyle:
    """Everything a mining run found about one style."""

    style: str
    model: str
    prompts: str  # the prompt set and split the answers came from
    reference: str  # what the answers were compared with
    markers: tuple[MinedMarker, ...]
    parent: str | None = None  # an AbstractStyle the style is put under
    trait_descriptions: Mapping[str, str] = field(default_factory=dict)
    kind: str = "Style"  # "Style", or "AbstractStyle" to mine into a reusable parent


def mined_graph(mined: MinedStyle, *, max_evidence: int = 5, name: str | None = None) -> StyleGraph:
    """The mined style as a graph: style (under ``parent``) → traits → markers → neutral forms, with evidence."""
    prov = Provenance("mined", f"model={mined.model}; prompts={mined.prompts}; reference={mined.reference}")
    graph = StyleGraph(name or f"mined-{mined.style}", f"{mined.style} as {mined.model} writes it (mined)")
    style_type = NodeType.ABSTRACT_STYLE if mined.kind == NodeType.ABSTRACT_STYLE.value else NodeType.STYLE
    style = Node(style_type, mined.style, f"Mined from {mined.model}'s answers to {mined.prompts}", provenance=prov)
    nodes: dict[str, Node] = {style.id: style}
    edges: list[Edge] = []
    if mined.parent:
        parent = Node(NodeType.ABSTRACT_STYLE, mined.parent, provenance=prov)
        nodes[parent.id] = parent
        edges.append(Edge(EdgeType.SUBCLASS_OF, style.id, parent.id, provenance=prov))
    for m in mined.markers:
        trait = Node(NodeType.TRAIT, m.trait, mined.trait_descriptions.get(m.trait, ""),
                     {"template": "Answering a question, {} writes"}, provenance=prov)
        if trait.id not in nodes:
            nodes[trait.id] = trait
            edges.append(Edge(EdgeType.HAS_TRAIT, style.id, trait.id, provenance=prov))
        stats: dict[str, Any] = {"z": round(m.z, 3), "count": m.count, "count_reference": m.count_reference,
                                 "documents": m.documents}
        marker = Node(NodeType.MARKER, m.phrase, properties={"text": m.phrase, "kind": "mined", "mined": stats},
                      provenance=prov)
        nodes.setdefault(marker.id, marker)
        evidence = [dict(o) for o in m.occurrences[:max_evidence]]
        edges.append(Edge(EdgeType.EXPRESSED_BY, trait.id, marker.id, weight=1.0,
                          properties={"occurrences": evidence, "model": mined.model}, provenance=prov))
        if m.neutral:
            neutral = Node(NodeType.MARKER, m.neutral, properties={"text": m.neutral, "neutral": True}, provenance=prov)
            nodes.setdefault(neutral.id, neutral)
            edges.append(Edge(EdgeType.NEUTRAL_FORM, marker.id, neutral.id, provenance=prov))
    graph.add_all(nodes.values(), _unique_edges(edges))
    return graph


def _unique_edges(edges: Sequence[Edge]) -> list[Edge]:
    return list({e.id: e for e in edges}.values())
