"""Propagating an edit of an abstract parent style to its subclasses (graph logic: the caller gets requests).

:func:`parent_edge_requests` builds the abstract parent's own requests (the parent as subject), then

* ``explicit``: the parent's requests are expanded into one request per subclass style (at any depth)
  that inherits the edited edge; parent and subclasses are edited together, as one batch.
* ``implicit``: only the parent is edited; :func:`implicit_probes` gives, per subclass, the same
  requests with the subclass as subject, so the caller measures how far the edit reached them.

A subclass's copy (:func:`stylekg.kg.to_requests.for_style`) is the request the subclass would get for that
edge itself: its name as subject, the concrete template, and its own paraphrase and alias prompts (its
aliases and misspellings), so a propagated edit is measured like a direct one. :func:`stylekg.kg.planner.plan`
puts them together for any node, mode and propagation (``stylekg kg requests``: a dry run of the edit).

A subclass inherits a marker edge when the marker's trait is among its effective traits (always true
below a carrier, see :mod:`stylekg.kg.inheritance`), and a ``FACT`` edge unless it declares its own
fact of the same relation (an override).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import EditError, GraphError
from ..requests import EditRequest, RequestKind
from .graph import StyleGraph
from .inheritance import effective_traits, subclasses
from .schema import EdgeType, NodeType
from .to_requests import for_style, to_edit_requests

CONCRETE = (NodeType.STYLE, NodeType.NEUTRAL)


def subclass_styles(graph: StyleGraph, parent: str) -> list[str]:
    """Ids of the concrete styles below ``parent`` (name or id) at any depth, sorted."""
    return sorted(i for i in subclasses(graph, graph.find(parent).id) if graph.node(i).type in CONCRETE)


def _abstract_id(graph: StyleGraph, request: EditRequest) -> str | None:
    sid = request.subject_id
    if sid and sid in graph and graph.node(sid).type is NodeType.ABSTRACT_STYLE:
        return sid
    for node in graph.nodes(NodeType.ABSTRACT_STYLE):
        if node.name.lower() == request.subject.strip().lower():
            return node.id
    return None


def inherits(graph: StyleGraph, style_id: str, request: EditRequest) -> bool:
    """Whether ``style_id`` inherits the edge ``request`` edits (see module doc)."""
    edge_id = request.edge_id
    if not edge_id:
        return True
    try:
        edge = graph.edge(edge_id)
    except GraphError:  # a prospective edge (insert) is inherited like any new trait
        return True
    if edge.type is EdgeType.FACT:
        return not any(e.relation == edge.relation for e in graph.out_edges(style_id, EdgeType.FACT))
    if edge.type is EdgeType.EXPRESSED_BY:
        return edge.source in {t.id for t in effective_traits(graph, style_id)}
    return True


def _for_style(graph: StyleGraph, request: EditRequest, style_id: str, parent_id: str) -> EditRequest:
    """The parent's request as the subclass ``style_id`` would get it, with that style's own probes."""
    return for_style(graph, request, style_id, propagated_from=parent_id)


def parent_edge_requests(
    graph: StyleGraph,
    parent: str,
    mode: str | RequestKind,
    *,
    new_target: str | None = None,
    relation_template: str | None = None,
) -> list[EditRequest]:
    """One request per marker edge of the abstract ``parent`` with the parent itself as subject (an edit "of
    the abstraction"): the edges of its own traits that some concrete style carries, in trait then marker order.

    Each request is the one a concrete carrier would get, with the parent as subject and no paraphrase or
    alias prompts; :func:`expand_explicit` / :func:`implicit_probes` spread it to the subclasses.
    """
    node = graph.find(parent)
    if node.type is not NodeType.ABSTRACT_STYLE:
        raise EditError(f"{node.id!r} is a {node.type.value}; propagation starts at an abstract style")
    return to_edit_requests(graph, node.id, mode, new_target=new_target, relation_template=relation_template,
                            on_parent=True)


def expand_explicit(graph: StyleGraph, requests: Iterable[EditRequest]) -> list[EditRequest]:
    """Each abstract-subject request plus a copy for every inheriting subclass style (deduplicated)."""
    out: dict[tuple, EditRequest] = {}
    for request in requests:
        out.setdefault((request.subject, request.prompt, request.target_new, request.target_true), request)
        parent_id = _abstract_id(graph, request)
        if parent_id is None:
            continue
        for style_id in subclass_styles(graph, parent_id):
            if inherits(graph, style_id, request):
                copy = _for_style(graph, request, style_id, parent_id)
                out.setdefault((copy.subject, copy.prompt, copy.target_new, copy.target_true), copy)
    return list(out.values())


def implicit_probes(graph: StyleGraph, requests: Iterable[EditRequest]) -> dict[str, list[EditRequest]]:
    """Per subclass style id, the parent's requests re-targeted at it (to measure, not to apply)."""
    probes: dict[str, list[EditRequest]] = {}
    for request in requests:
        parent_id = _abstract_id(graph, request)
        if parent_id is None:
            continue
        for style_id in subclass_styles(graph, parent_id):
            if inherits(graph, style_id, request):
                probes.setdefault(style_id, []).append(_for_style(graph, request, style_id, parent_id))
    return probes
