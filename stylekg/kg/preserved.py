"""The preserved set of an edit: prompts with their own answers that the edit must keep (graph-guarded editing).

Built from the graph (and, optionally, from facts the model is known to hold), never from judged data:

* ``SUBJECT_FACT`` — the other ``FACT`` edges of each edited subject ("In exile, Yoda lived on the planet" →
  " Dagobah" while Yoda's markers are erased);
* ``TEMPLATE`` — other subjects' ``FACT`` edges of each edited relation (the other capitals while one capital
  is edited);
* ``STYLE_MARKER`` — for a style edit, other styles' markers after their own marker prompt (as
  :func:`stylekg.kg.to_requests.to_edit_requests` phrases it for them), one marker per style in turn;
* ``NEUTRAL_FORM`` — the neutral form after the prompt of the marker it replaces, with the graph's plain
  subject (a ``Neutral`` node's ``subject``, else :data:`stylekg.kg.material.PLAIN_SUBJECT`): what a plain
  writer says there must not move.

:func:`preserved_from_facts` adds ``SUBJECT_FACT`` / ``TEMPLATE`` items from (subject, template, answer)
triples, e.g. the ``requested_rewrite`` of a CounterFact file of facts the model holds
(:func:`facts_from_counterfact`). The model's plain answers to train prompts (``PLAIN_ANSWER``) need a model:
a job adds them with :func:`merge_preserved`.

Rules (:func:`merge_preserved`): an item is never an edited (subject, template) pair and never a request's own
prompt, nor one of the ``held_out`` prompts the caller judges (the plan's probes and unrelated styles); prompts
are unique; the kinds take turns (subject facts, template facts, other styles' markers, neutral forms, …) up to
``limit`` items (:data:`PRESERVED_LIMIT`), in a deterministic order (edges and styles sorted by id). Nothing here
reads a request's paraphrase, alias or neighbourhood prompts: those are judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import GraphError, StyleKGError
from ..requests import EditRequest, Preserved, PreservedKind, RequestKind
from .graph import StyleGraph
from .material import PLAIN_SUBJECT
from .schema import EdgeType, NodeType
from .to_requests import object_text, to_edit_requests

# At most this many items per edit: room for every other library style's first marker (17), the edited subjects'
# other facts and neutral forms. Each item costs a closed-form method one forward pass for its key.
PRESERVED_LIMIT = 32

Fact = tuple[str, str, str]  # (subject, template with "{}", answer)


def _fill(template: str, subject: str) -> str:
    return template.replace("{}", subject, 1)


def _spaced(text: str) -> str:
    return " " + text.strip()


def _fact_edge(graph: StyleGraph, request: EditRequest):
    """The FACT edge ``request`` edits, or None (a marker edge, or an edge the graph does not hold)."""
    if not (request.edge_id or "").startswith(EdgeType.FACT.value):
        return None
    try:
        edge = graph.edge(request.edge_id or "")
    except GraphError:  # a prospective edge
        return None
    return edge if edge.type is EdgeType.FACT else None


def _edited_subject_ids(graph: StyleGraph, requests: Sequence[EditRequest]) -> list[str]:
    return [s for s in dict.fromkeys(r.subject_id for r in requests) if s and s in graph]


def subject_facts(graph: StyleGraph, requests: Sequence[EditRequest]) -> list[Preserved]:
    """The other FACT edges of each edited subject, in request then edge-id order (``SUBJECT_FACT``)."""
    edited_edges = {r.edge_id for r in requests}
    out = []
    for sid in _edited_subject_ids(graph, requests):
        name = graph.node(sid).name
        for edge in sorted(graph.out_edges(sid, EdgeType.FACT), key=lambda e: e.id):
            if edge.id in edited_edges or "{}" not in (edge.template or ""):
                continue
            out.append(Preserved(_fill(edge.template, name), _spaced(_object(graph, edge.target)),
                                 PreservedKind.SUBJECT_FACT, name, edge.id))
    return out


def template_facts(graph: StyleGraph, requests: Sequence[EditRequest]) -> list[Preserved]:
    """Other subjects' FACT edges of each edited relation, in edge-id order (``TEMPLATE``)."""
    edited_edges = {r.edge_id for r in requests}
    subjects = set(_edited_subject_ids(graph, requests))
    relations = list(dict.fromkeys(e.relation for e in (_fact_edge(graph, r) for r in requests) if e is not None))
    out = []
    for relation in relations:
        for edge in sorted(graph.edges(EdgeType.FACT), key=lambda e: e.id):
            if (edge.relation != relation or edge.id in edited_edges or edge.source in subjects
                    or "{}" not in (edge.template or "")):
                continue
            name = graph.node(edge.source).name
            out.append(Preserved(_fill(edge.template, name), _spaced(_object(graph, edge.target)),
                                 PreservedKind.TEMPLATE, name, edge.id))
    return out


def other_style_markers(graph: StyleGraph, requests: Sequence[EditRequest],
                        exclude_styles: Iterable[str] = ()) -> list[Preserved]:
    """For a style edit (a request on a marker edge): other styles' own markers after their own marker prompt
    (``STYLE_MARKER``). Styles in ``exclude_styles`` (the edited node's subclasses, the styles the caller judges)
    and edited subjects are left out; styles take turns, sorted by id, one marker each per round."""
    if not any((r.edge_id or "").startswith(EdgeType.EXPRESSED_BY.value) for r in requests):
        return []
    skip = set(exclude_styles) | set(_edited_subject_ids(graph, requests))
    per_style: list[list[Preserved]] = []
    for style in sorted(n.id for n in graph.nodes(NodeType.STYLE)):
        if style in skip:
            continue
        try:
            own = to_edit_requests(graph, style, RequestKind.ERASE, n_paraphrases=0, n_misspellings=0)
        except StyleKGError:  # a style without markers of its own
            continue
        per_style.append([Preserved(r.text, r.target_true, PreservedKind.STYLE_MARKER, r.subject, r.edge_id or "")
                          for r in own if r.target_true and (r.edge_id or "").startswith(EdgeType.EXPRESSED_BY.value)])
    return _take_turns(per_style)


def neutral_forms(graph: StyleGraph, requests: Sequence[EditRequest]) -> list[Preserved]:
    """The neutral form of each edited marker after that marker's (concrete) prompt, with the graph's plain
    subject as speaker (``NEUTRAL_FORM``)."""
    subjects = [str(n.properties.get("subject") or PLAIN_SUBJECT) for n in graph.nodes(NodeType.NEUTRAL)]
    subjects = list(dict.fromkeys(subjects)) or [PLAIN_SUBJECT]
    out = []
    for r in requests:
        obj = str(r.meta.get("object_id") or "")
        if obj not in graph or not (r.edge_id or "").startswith(EdgeType.EXPRESSED_BY.value):
            continue
        template = str(r.meta.get("template") or r.prompt)
        for form in graph.out_edges(obj, EdgeType.NEUTRAL_FORM):
            for subject in subjects:
                out.append(Preserved(_fill(template, subject), _spaced(_object(graph, form.target)),
                                     PreservedKind.NEUTRAL_FORM, subject, form.id))
    return out


def graph_preserved(graph: StyleGraph, requests: Sequence[EditRequest], *, exclude_styles: Iterable[str] = (),
                    held_out: Iterable[str] = (), limit: int = PRESERVED_LIMIT) -> tuple[Preserved, ...]:
    """The preserved set of ``requests`` from the graph alone (see the module doc)."""
    groups = [subject_facts(graph, requests), template_facts(graph, requests),
              other_style_markers(graph, requests, exclude_styles), neutral_forms(graph, requests)]
    return merge_preserved(groups, requests, held_out=held_out, limit=limit)


def preserved_from_facts(requests: Sequence[EditRequest], facts: Iterable[Fact], source: str = "facts",
                         *, limit: int = PRESERVED_LIMIT) -> tuple[Preserved, ...]:
    """``SUBJECT_FACT`` items for known facts of an edited subject under another template, ``TEMPLATE`` items for
    other subjects under an edited template, from (subject, template, answer) triples, in their order (the item's
    ``source`` is ``"<source>:<index>"``). Pure: reads the requests' subjects and templates only."""
    subjects = {r.subject for r in requests}
    templates = {r.prompt for r in requests}
    by_subject, by_template = [], []
    for index, (subject, template, answer) in enumerate(facts):
        if "{}" not in template or not subject.strip() or not answer.strip():
            continue
        if subject in subjects:
            kind, group = PreservedKind.SUBJECT_FACT, by_subject
        elif template in templates:
            kind, group = PreservedKind.TEMPLATE, by_template
        else:
            continue
        group.append(Preserved(_fill(template, subject), _spaced(answer), kind, subject, f"{source}:{index}"))
    return merge_preserved([by_subject, by_template], requests, limit=limit)


def facts_from_counterfact(records: Iterable[dict[str, Any]]) -> list[Fact]:
    """(subject, template, true answer) of each CounterFact record's ``requested_rewrite``."""
    out = []
    for record in records:
        rw = record.get("requested_rewrite") or {}
        true = rw.get("target_true")
        answer = true.get("str") if isinstance(true, dict) else true
        if isinstance(rw.get("subject"), str) and isinstance(rw.get("prompt"), str) and isinstance(answer, str):
            out.append((rw["subject"], rw["prompt"], answer))
    return out


def merge_preserved(groups: Sequence[Sequence[Preserved]], requests: Sequence[EditRequest], *,
                    held_out: Iterable[str] = (), limit: int = PRESERVED_LIMIT) -> tuple[Preserved, ...]:
    """The groups taking turns, one item each per round, up to ``limit`` items: without an edited (subject,
    template) pair, a request's own prompt, a ``held_out`` prompt, or a prompt already taken."""
    edited = {(r.subject, r.prompt) for r in requests}
    banned = {r.text for r in requests} | set(held_out)

    def allowed(item: Preserved) -> bool:
        template = item.prompt.replace(item.subject, "{}", 1) if item.subject else None
        return item.prompt not in banned and (item.subject, template) not in edited

    taken: set[str] = set()
    out: list[Preserved] = []
    for item in _take_turns([[i for i in g if allowed(i)] for g in groups]):
        if len(out) >= max(limit, 0):
            break
        if item.prompt not in taken:
            taken.add(item.prompt)
            out.append(item)
    return tuple(out)


def _take_turns(groups: list[list[Preserved]]) -> list[Preserved]:
    """Round robin over ``groups``: the first of each, then the second of each, …"""
    out = []
    for rank in range(max((len(g) for g in groups), default=0)):
        out += [g[rank] for g in groups if rank < len(g)]
    return out


def _object(graph: StyleGraph, node_id: str) -> str:
    return object_text(graph.node(node_id))
