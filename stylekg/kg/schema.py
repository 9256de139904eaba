"""Typed data of style graphs: closed node/edge type enums, nodes, edges, provenance, runs.

Labels and relationship types in every store come from :class:`NodeType` / :class:`EdgeType`
(a closed vocabulary: a typo raises). Ids are stable: the same name always gives the same id.
"""

from __future__ import annotations

import math

import re
import unicodedata
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class NodeType(str, Enum):
    ABSTRACT_STYLE = "AbstractStyle"  # reusable parent pattern ("Exaggeration", "Cosmic wonder")
    STYLE = "Style"  # a concrete voice: a person, character or author
    TRAIT = "Trait"  # a semantic or grammatical pattern ("exaggerating", "inverted syntax")
    MARKER = "Marker"  # a lexical/grammatical expression of a trait ("tremendous", OSV order)
    ALIAS = "Alias"  # synonym, nickname or misspelling of a style's subject
    NEUTRAL = "Neutral"  # the erased target style (plain; also assistant-speak)
    ENTITY = "Entity"  # the object of a fact edge ("New York")


class EdgeType(str, Enum):
    SUBCLASS_OF = "SUBCLASS_OF"  # style/abstract → more abstract style (DAG)
    HAS_TRAIT = "HAS_TRAIT"  # style/abstract → trait
    EXPRESSED_BY = "EXPRESSED_BY"  # trait → marker
    ALIAS_OF = "ALIAS_OF"  # alias → style
    NEUTRAL_FORM = "NEUTRAL_FORM"  # marker → its neutral counterpart marker
    FACT = "FACT"  # (subject, relation, object) with an edit prompt template


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """ASCII, lower-case, dash-separated form of a name (stable across runs and machines)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    out = _SLUG.sub("-", text).strip("-")
    return out or "x"


def node_id(node_type: NodeType, name: str) -> str:
    return f"{NodeType(node_type).value}:{slug(name)}"


def edge_id(edge_type: EdgeType, source: str, target: str, relation: str = "") -> str:
    rel = f"[{slug(relation)}]" if relation else ""
    return f"{EdgeType(edge_type).value}{rel}:{source}->{target}"


@dataclass(frozen=True)
class Provenance:
    """Where a node or edge came from: ``library``, ``llm`` (model + prompt hash), ``user`` or ``run``."""

    source: str = "user"
    detail: str = ""


@dataclass
class Node:
    type: NodeType
    name: str
    description: str = ""
    properties: dict[str, Any] = field(default_factory=dict)  # e.g. kind, examples, weight
    provenance: Provenance = field(default_factory=Provenance)
    annotations: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def __post_init__(self) -> None:
        self.type = NodeType(self.type)
        if not self.name or not self.name.strip():
            raise ValueError("a node needs a non-empty name")
        if not self.id:
            self.id = node_id(self.type, self.name)


@dataclass
class Edge:
    type: EdgeType
    source: str  # node id
    target: str  # node id
    relation: str = ""  # FACT: the relation name ("lives in"); else empty
    template: str = ""  # FACT: prompt template with {} for the subject
    weight: float = 1.0
    properties: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    annotations: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def __post_init__(self) -> None:
        self.type = EdgeType(self.type)
        if not math.isfinite(float(self.weight)):  # NaN/inf: no store or JSON file could give it back
            raise ValueError(f"edge weight {self.weight!r} is not a finite number")
        if not self.id:
            self.id = edge_id(self.type, self.source, self.target, self.relation)


@dataclass
class TargetMetrics:
    """Metrics of one run for one node or edge (``role``: edited, subclass, unrelated, ...)."""

    target_id: str
    metrics: dict[str, float]
    role: str = "edited"


@dataclass
class RunRecord:
    """An edit, trace or evaluation written back to the graph as a ``Run`` node."""

    id: str
    kind: str  # "edit" | "trace" | "eval" | "probe"
    method: str
    model: str
    graph: str
    hparams_hash: str = ""
    created: str = ""  # ISO-8601 UTC
    version: str = ""
    status: str = "ok"
    params: dict[str, Any] = field(default_factory=dict)
    targets: list[TargetMetrics] = field(default_factory=list)
