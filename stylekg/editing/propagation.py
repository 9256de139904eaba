"""Propagating an edit of an abstract parent style to its subclasses.

* ``explicit``: the parent's requests are expanded into one request per subclass style (at any depth)
  that inherits the edited edge; parent and subclasses are edited together, as one batch.
* ``implicit``: only the parent is edited; :func:`implicit_probes` gives, per subclass, the same
  requests with the subclass as subject, so the caller measures how far the edit reached them.

A subclass inherits a marker edge when the marker's trait is among its effective traits (always true
below a carrier, see :mod:`stylekg.kg.inheritance`), and a ``FACT`` edge unless it declares its own
fact of the same relation (an override).
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable

from ..errors import EditError
from ..kg.graph import StyleGraph
from ..kg.schema import EdgeType, NodeType, RunRecord, TargetMetrics
from ..requests import EditRequest

CONCRETE = (NodeType.STYLE, NodeType.NEUTRAL)
MODES = ("explicit", "implicit")


def subclass_styles(graph: StyleGraph, parent: str) -> list[str]:
    """Ids of the concrete styles below ``parent`` (name or id) at any depth, sorted."""
    try:
        from ..kg.inheritance import subclasses
    except ImportError:  # the inheritance module is optional: walk SUBCLASS_OF ourselves
        subclasses = None
    pid = graph.find(parent).id
    if subclasses is not None:
        ids = subclasses(graph, pid)
    else:
        ids, stack = set(), [pid]
        while stack:
            for edge in graph.in_edges(stack.pop(), EdgeType.SUBCLASS_OF):
                if edge.source not in ids:
                    ids.add(edge.source)
                    stack.append(edge.source)
    return sorted(i for i in ids if graph.node(i).type in CONCRETE)


def _abstract_id(graph: StyleGraph, request: EditRequest) -> str | None:
    sid = request.meta.get("subject_id")
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
    except Exception:  # a prospective edge (insert) is inherited like any new trait
        return True
    if edge.type is EdgeType.FACT:
        return not any(e.relation == edge.relation for e in graph.out_edges(style_id, EdgeType.FACT))
    if edge.type is EdgeType.EXPRESSED_BY:
        try:
            from ..kg.inheritance import effective_traits

            return edge.source in {t.id for t in effective_traits(graph, style_id)}
        except ImportError:
            return True
    return True


def _for_style(graph: StyleGraph, request: EditRequest, style_id: str, parent_id: str) -> EditRequest:
    style = graph.node(style_id)
    return request.with_(
        subject=style.name,
        case_id=f"{request.case_id}|{style_id}",
        paraphrase_prompts=(),
        alias_prompts=(),
        meta={**request.meta, "subject_id": style_id, "propagated_from": parent_id},
    )


def parent_requests(requests: Iterable[EditRequest], graph: StyleGraph, parent: str) -> list[EditRequest]:
    """One request per edited edge with the abstract ``parent`` itself as subject.

    ``to_edit_requests`` on an abstract node yields requests for its concrete carriers; this folds
    them back onto the parent (an edit "of the abstraction").
    """
    node = graph.find(parent)
    if node.type is not NodeType.ABSTRACT_STYLE:
        raise EditError(f"{node.id!r} is a {node.type.value}; propagation starts at an abstract style")
    out: dict[tuple, EditRequest] = {}
    for r in requests:
        key = (r.edge_id, r.prompt, r.target_new, r.target_true)
        if key not in out:
            out[key] = r.with_(
                subject=node.name,
                case_id=f"{r.kind.value}|{node.id}|{r.edge_id}",
                paraphrase_prompts=(),
                alias_prompts=(),
                meta={**r.meta, "subject_id": node.id},
            )
    return list(out.values())


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


def effects_record(
    *,
    method: str,
    model: str,
    graph: StyleGraph,
    parent: str,
    mode: str,
    edited: dict[str, dict[str, float]],
    subclasses: dict[str, dict[str, float]],
    hparams_hash: str = "",
) -> RunRecord:
    """One run node with metrics per style: the edited node(s) and every measured subclass."""
    if mode not in MODES:
        raise EditError(f"unknown propagation mode {mode!r}", hint="use explicit or implicit")
    targets = [TargetMetrics(t, m, role="edited") for t, m in edited.items()]
    targets += [TargetMetrics(t, m, role="subclass") for t, m in subclasses.items()]
    return RunRecord(
        id=f"run:{uuid.uuid4().hex[:12]}",
        kind="edit",
        method=method,
        model=model,
        graph=graph.name,
        hparams_hash=hparams_hash,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        params={"parent": graph.find(parent).id, "propagate": mode},
        targets=targets,
    )
