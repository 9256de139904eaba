"""The one request planner: what an edit of a graph node applies, measures, watches and keeps (loads no model).

:func:`plan` turns a node of a style graph into an :class:`EditPlan`:

* ``requests`` — what the editing method is handed: the node's requests (:func:`stylekg.kg.to_requests.to_edit_requests`),
  or with propagation an abstract parent's own requests (:func:`stylekg.kg.propagation.parent_edge_requests`),
  copied to every inheriting subclass (``explicit``);
* ``probes`` — per subclass style, the parent's requests re-targeted at it (``implicit``: measured, not applied);
* ``unrelated`` — marker requests of other styles, measured for drift and never edited: the first ``n_unrelated``
  styles by id that have markers, are not edited and are not below the edited node;
* ``preserved`` — what the edit must keep (:mod:`stylekg.kg.preserved`), from the graph and optional known facts,
  with the probes' and unrelated styles' prompts held out (they are judged).

Every job (``run``, ``edit``, ``compare``, ``run --auto``) and ``stylekg kg requests`` build their plan here, each
with its own selection (see :func:`plan`), so ``kg requests --job J`` prints what job ``J`` edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EditError, StyleKGError
from ..requests import EditRequest, Preserved, Propagation, RequestKind, from_record, to_record
from .graph import StyleGraph
from .preserved import PRESERVED_LIMIT, Fact, graph_preserved, merge_preserved, preserved_from_facts
from .propagation import expand_explicit, implicit_probes, parent_edge_requests, subclass_styles
from .schema import NodeType
from .to_requests import first_edges, marker_edges, to_edit_requests


@dataclass(frozen=True)
class EditPlan:
    """The whole plan of one edit (see the module doc); ``to_json`` is what ``kg requests --json`` prints."""

    node_id: str
    mode: RequestKind
    propagate: Propagation
    requests: list[EditRequest]  # applied, as one batch
    probes: dict[str, list[EditRequest]] = field(default_factory=dict)  # subclass id → measured only (implicit)
    unrelated: list[EditRequest] = field(default_factory=list)  # other styles' markers: measured, never edited
    subclasses: list[str] = field(default_factory=list)  # concrete styles below the node (abstract nodes)
    preserved: tuple[Preserved, ...] = ()  # what the edit must keep
    graph: str = ""

    @property
    def node(self) -> str:
        return self.node_id

    @property
    def probe_list(self) -> list[EditRequest]:
        """Every probe, subclass after subclass."""
        return [r for group in self.probes.values() for r in group]

    @property
    def measured(self) -> list[EditRequest]:
        """What a job scores on the edited node and its subclasses: the applied requests, then the probes."""
        return self.requests + self.probe_list

    def to_json(self) -> dict[str, Any]:
        return {"graph": self.graph, "node": self.node_id, "mode": self.mode.value,
                "propagate": self.propagate.value, "requests": [to_record(r) for r in self.requests],
                "probes": {sid: [to_record(r) for r in group] for sid, group in self.probes.items()},
                "unrelated": [to_record(r) for r in self.unrelated], "subclasses": list(self.subclasses),
                "preserved": [p.to_json() for p in self.preserved]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EditPlan":
        try:
            return cls(str(data["node"]), RequestKind(data["mode"]), Propagation(data["propagate"]),
                       [from_record(r) for r in data["requests"]],
                       {str(k): [from_record(r) for r in v] for k, v in dict(data.get("probes") or {}).items()},
                       [from_record(r) for r in data.get("unrelated", [])], [str(s) for s in data.get("subclasses", [])],
                       tuple(Preserved.from_json(p) for p in data.get("preserved", [])), str(data.get("graph", "")))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise EditError(f"not an edit plan ({exc})", hint="write it with EditPlan.to_json()") from None

    # the stage cache's protocol (a run caches its plan as JSON)
    def to_dict(self) -> dict[str, Any]:
        return self.to_json()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EditPlan":
        return cls.from_json(data)


def parse_mode(mode: str | RequestKind) -> RequestKind:
    try:
        return RequestKind(mode)
    except ValueError:
        raise EditError(f"unknown edit mode {mode!r}", hint=f"use one of {', '.join(k.value for k in RequestKind)}") from None


def parse_propagation(propagate: str | Propagation | None) -> Propagation:
    try:
        return Propagation(propagate or Propagation.NONE)
    except ValueError:
        raise EditError(f"unknown propagation mode {propagate!r}",
                        hint=f"use one of {', '.join(p.value for p in Propagation)}") from None


def node_id_of(graph: StyleGraph, node: str) -> str:
    """The id of ``node`` (a node name, alias or id, or an edge id)."""
    from .inheritance import resolve_style

    if "->" in node:
        try:
            return graph.edge(node).id
        except StyleKGError:
            pass
    return resolve_style(graph, node)


def plan(
    graph: StyleGraph,
    node: str,
    *,
    mode: str | RequestKind = RequestKind.ERASE,
    propagate: str | Propagation | None = Propagation.NONE,
    new_target: str | None = None,
    relation_template: str | None = None,
    inherited: bool = False,
    markers_only: bool | None = False,
    require_new: bool = False,
    max_markers: int | None = None,
    n_unrelated: int = 2,
    unrelated_edges: int = 2,
    facts: Iterable[Fact] = (),
    facts_source: str = "facts",
    preserved_limit: int = PRESERVED_LIMIT,
) -> EditPlan:
    """The plan of an edit of ``node`` (see the module doc).

    Selection, in this order: ``markers_only`` keeps the requests on marker edges when there are any (``None``:
    only for ``erase``, as ``stylekg run`` does); ``require_new`` keeps the requests with a new target (an erase
    to a neutral form, not a mere lowering); ``max_markers`` keeps the first that many edges (every subject of
    each). Then propagation spreads the kept edges. ``unrelated_edges`` caps each unrelated style's marker edges;
    ``facts`` ((subject, template, answer) triples the model is known to hold) add to the graph's preserved set,
    which has at most ``preserved_limit`` items. Raises :class:`~stylekg.errors.EditError` on a bad mode, on
    propagation from a node that is not an abstract style, and on a selection that leaves nothing to edit.
    """
    kind, how = parse_mode(mode), parse_propagation(propagate)
    node_id = node_id_of(graph, node)
    is_abstract = node_id in graph and graph.node(node_id).type is NodeType.ABSTRACT_STYLE
    if how is not Propagation.NONE:
        if inherited:
            raise EditError("inherited markers (--inherited) and propagation (--propagate) do not go together",
                            hint="propagation edits an abstract parent's own markers; inherited a style's inherited ones")
        if not is_abstract:
            raise EditError(f"propagation starts at an abstract style; {node!r} is not one",
                            hint="name an abstract parent (e.g. Exaggeration), or leave propagation out")
    if how is Propagation.NONE:
        base = to_edit_requests(graph, node_id, kind, new_target=new_target, relation_template=relation_template,
                                inherited=inherited)
    else:
        base = parent_edge_requests(graph, node_id, kind, new_target=new_target, relation_template=relation_template)
    if markers_only or (markers_only is None and kind is RequestKind.ERASE):
        base = marker_edges(base)
    if require_new:
        base = [r for r in base if r.target_new]
    if max_markers is not None:
        base = first_edges(base, max_markers)
    if not base:
        raise EditError(f"{node!r} has nothing left to edit after the selection",
                        hint="allow all edges, or pick a node whose markers have neutral forms")
    requests, probes = base, {}
    if how is Propagation.EXPLICIT:
        requests = expand_explicit(graph, base)
    elif how is Propagation.IMPLICIT:
        probes = implicit_probes(graph, base)
    subclasses = subclass_styles(graph, node_id) if is_abstract else []
    unrelated = unrelated_requests(graph, requests, exclude=subclasses, n_styles=n_unrelated,
                                   n_edges=unrelated_edges)
    held_out = [r.text for r in unrelated] + [r.text for group in probes.values() for r in group]
    exclude = {*subclasses, *probes, *(r.subject_id for r in unrelated if r.subject_id)}
    preserved = merge_preserved(
        [graph_preserved(graph, requests, exclude_styles=exclude, held_out=held_out, limit=preserved_limit),
         preserved_from_facts(requests, facts, facts_source, limit=preserved_limit)],
        requests, held_out=held_out, limit=preserved_limit)
    return EditPlan(node_id, kind, how, requests, probes, unrelated, subclasses, preserved, graph.name)


def unrelated_requests(graph: StyleGraph, requests: Sequence[EditRequest], *, exclude: Iterable[str] = (),
                       n_styles: int = 2, n_edges: int = 2) -> list[EditRequest]:
    """Erase requests on the first ``n_edges`` marker edges of the first ``n_styles`` styles (by id) that have
    markers, are not edited and are not in ``exclude`` (the edited node's subclasses)."""
    skip = set(exclude) | {r.subject_id for r in requests}
    out: list[EditRequest] = []
    chosen = 0
    for style in sorted(n.id for n in graph.nodes(NodeType.STYLE)):
        if chosen >= n_styles:
            break
        if style in skip:
            continue
        try:
            own = first_edges(marker_edges(to_edit_requests(graph, style, RequestKind.ERASE)), n_edges)
        except StyleKGError:
            continue
        out += own
        chosen += 1
    return out
