"""Style graphs: schema, in-memory graph, library, decomposition, RDF and stores."""

from .graph import StyleGraph
from .schema import Edge, EdgeType, Node, NodeType, Provenance, RunRecord, TargetMetrics

__all__ = ["StyleGraph", "Edge", "EdgeType", "Node", "NodeType", "Provenance", "RunRecord", "TargetMetrics"]
