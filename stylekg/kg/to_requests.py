"""Style graph edges → :class:`stylekg.requests.EditRequest` (CounterFact-shaped, ROME/MEMIT input).

Each request is built from one *unit*: a subject style plus either a ``FACT`` edge (object = the
fact's object) or a marker reached through ``HAS_TRAIT``/``EXPRESSED_BY`` (object = the marker text,
prompt = the marker's or its trait's template). Modes:

* ``replace``  — the object becomes ``new_target`` (target_true = the old object);
* ``erase``    — the object moves to its ``NEUTRAL_FORM`` counterpart, or, without one, the request
  only lowers the old object (``target_new=None``);
* ``insert``   — give a style a new marker ``new_target`` (no old object); the request keeps the id of
  the edge that would carry it (``meta["prospective"]``);
* ``relation`` — same subject and object under a new prompt ``relation_template``.

An abstract parent's own requests (``on_parent``, see :mod:`stylekg.kg.propagation`) read as English: their
subject is the parent's ``subject`` property ("people who exaggerate"), or "people with a <name> style" for
graphs without it, and a marker without a template of its own is prompted with "{} often say"
(:func:`parent_subject`, :data:`PARENT_TEMPLATE`). Each keeps the template a concrete carrier would get in
``meta["template"]``, so :func:`for_style` rebuilds the same request for any subclass with that style's own
paraphrase, alias and neighbourhood prompts.

Every request keeps ``edge_id`` and gets paraphrase prompts (context prefixes and the fact's own
paraphrase templates, as in ROME's generalisation prompts), alias prompts (the subject's aliases and
:func:`stylekg.material.misspellings`, the same ones evaluation probes) and neighbourhood prompts (other
styles, same prompt, a different object). A style's markers come from :mod:`stylekg.kg.material`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..errors import GraphError
from ..material import Marker, misspellings
from ..requests import EditRequest, RequestKind
from .graph import StyleGraph
from .inheritance import hierarchy, resolve_style
from .material import style_markers
from .library.records import DEFAULT_MARKER_TEMPLATE
from .schema import Edge, EdgeType, Node, NodeType, edge_id, node_id

CONTEXT_PREFIXES = (
    "Here is something worth knowing. ",
    "I read this in a magazine yesterday. ",
    "The class went quiet for a moment. ",
    "Let me tell you a short story. ",
    "It was late in the evening. ",
    "People who know say this. ",
)
STYLE_TYPES = (NodeType.STYLE, NodeType.NEUTRAL)
PARENT_TEMPLATE = "{} often say"  # an abstract parent's subject is plural ("People who exaggerate often say")


@dataclass(frozen=True)
class _Unit:
    subject: Node
    edge: Edge  # FACT edge, or the EXPRESSED_BY edge of the marker
    obj: Node
    template: str
    trait: Node | None = None


def _fill(template: str, subject: str) -> str:
    return template.replace("{}", subject, 1)


def _spaced(text: str) -> str:
    text = text.strip()
    return " " + text


def _marker_template(graph: StyleGraph, marker: Node, trait: Node | None) -> str:
    for candidate in (marker.properties.get("template"), trait.properties.get("template") if trait else None):
        if candidate and "{}" in candidate:
            return candidate
    return DEFAULT_MARKER_TEMPLATE


def _neutral_of(graph: StyleGraph, node: Node) -> Node | None:
    forms = graph.out_edges(node.id, EdgeType.NEUTRAL_FORM)
    return graph.node(forms[0].target) if forms else None


def _marker_unit(graph: StyleGraph, subject: Node, marker: Marker) -> _Unit:
    """The unit of one material marker (its EXPRESSED_BY edge, marker and trait nodes) for ``subject``."""
    trait = graph.node(marker.trait_id or "")
    edge = next(e for e in graph.out_edges(trait.id, EdgeType.EXPRESSED_BY) if e.id == marker.edge_id)
    obj = graph.node(marker.marker_id or "")
    return _Unit(subject, edge, obj, _marker_template(graph, obj, trait), trait)


def _concrete_carriers(graph: StyleGraph, trait_id: str) -> list[Node]:
    """The concrete styles carrying a trait (directly or by inheritance), sorted by id."""
    nodes = (graph.node(cid) for cid in sorted(hierarchy(graph).carriers_of_trait(trait_id)))
    return [n for n in nodes if n.type in STYLE_TYPES]


def _units(graph: StyleGraph, start: str, inherited: bool, on_parent: bool = False) -> list[_Unit]:
    """Every (subject, edge, object) a request can be built from, starting at a node or edge id.

    A style's and an abstract style's markers come from :func:`stylekg.kg.material.style_markers`. An abstract
    style's marker units have each concrete carrier as subject, or (``on_parent``) the abstract style itself,
    once per marker edge that some concrete style carries.
    """
    edge = None
    if "->" in start:  # looks like an edge id (node names/ids never need the edge scan)
        try:
            edge = graph.edge(start)
        except GraphError:
            edge = None
    if edge is not None:
        if on_parent:
            raise GraphError(f"{edge.id!r} is an edge: requests on the parent need an abstract style")
        if edge.type is EdgeType.FACT:
            return [_Unit(graph.node(edge.source), edge, graph.node(edge.target), edge.template)]
        if edge.type is EdgeType.EXPRESSED_BY:
            return _trait_units(graph, graph.node(edge.source), only=edge.target)
        raise GraphError(f"edge {edge.id!r} is {edge.type.value}: only FACT and EXPRESSED_BY edges map to requests")
    node = graph.node(resolve_style(graph, start))
    if on_parent and node.type is not NodeType.ABSTRACT_STYLE:
        raise GraphError(f"{node.id!r} is a {node.type.value}: requests on the parent need an abstract style")
    if node.type in STYLE_TYPES:
        units = [
            _Unit(node, e, graph.node(e.target), e.template) for e in graph.out_edges(node.id, EdgeType.FACT)
        ]
        return units + [_marker_unit(graph, node, m) for m in style_markers(graph, node.id, own_only=not inherited)]
    if node.type is NodeType.ABSTRACT_STYLE:
        by_trait: dict[str, list[Marker]] = {}
        for m in style_markers(graph, node.id, own_only=True):
            by_trait.setdefault(m.trait_id or "", []).append(m)
        units = []
        for trait_id, markers in by_trait.items():
            carriers = _concrete_carriers(graph, trait_id)
            subjects = ([node] if carriers else []) if on_parent else carriers
            units += [_marker_unit(graph, subject, m) for subject in subjects for m in markers]
        return units
    if node.type is NodeType.TRAIT:
        return _trait_units(graph, node)
    if node.type is NodeType.MARKER:
        return [u for e in graph.in_edges(node.id, EdgeType.EXPRESSED_BY)
                for u in _trait_units(graph, graph.node(e.source), only=node.id)]
    raise GraphError(f"node {node.id!r} is {node.type.value}: requests start at a style, trait, marker or edge")


def _trait_units(graph: StyleGraph, trait: Node, only: str | None = None) -> list[_Unit]:
    """Marker units of a trait for every concrete style carrying it (directly or by inheritance)."""
    units = []
    for subject in _concrete_carriers(graph, trait.id):
        for e in graph.out_edges(trait.id, EdgeType.EXPRESSED_BY):
            if only is None or e.target == only:
                marker = graph.node(e.target)
                units.append(_Unit(subject, e, marker, _marker_template(graph, marker, trait), trait))
    return units


def parent_subject(node: Node, template: str = "{}") -> str:
    """How an abstract style is named in a prompt: its ``subject`` property ("people who talk in nautical slang"),
    else "people with a <name> style"; capitalised when ``template`` starts with it."""
    text = str(node.properties.get("subject") or "").strip()
    if not text:
        name = node.name.strip()
        name = name[0].lower() + name[1:] if len(name) > 1 and not name[1].isupper() else name
        text = f"people with {'an' if name[:1].lower() in 'aeiou' else 'a'} {name} style"
    return text[0].upper() + text[1:] if template.lstrip().startswith("{}") else text


def parent_template(node: Node, unit_template: str) -> str:
    """The prompt of an abstract style's own request: its ``template`` property, the marker's or trait's
    template, or :data:`PARENT_TEMPLATE` instead of the singular default."""
    own = str(node.properties.get("template") or "")
    if "{}" in own:
        return own
    return PARENT_TEMPLATE if unit_template == DEFAULT_MARKER_TEMPLATE else unit_template


def for_style(graph: StyleGraph, request: EditRequest, style_id: str, *, n_paraphrases: int = 3,
              n_misspellings: int = 3, **meta: object) -> EditRequest:
    """``request`` (typically an abstract parent's) made for the style ``style_id``: its name as subject, the
    concrete template (``meta["template"]``), and that style's own paraphrase, alias and neighbourhood prompts."""
    style = graph.node(style_id)
    template = str(request.meta.get("template") or request.prompt)
    try:
        edge = graph.edge(request.edge_id or "")
    except GraphError:  # a prospective edge: prompts are built from the request alone
        edge = Edge(EdgeType.EXPRESSED_BY, style.id, style.id, id=request.edge_id or request.case_id or "edge")
    obj_id = str(request.meta.get("object_id") or "")
    text = (request.target_true or request.target_new or "x").strip()
    obj = graph.node(obj_id) if obj_id in graph else Node(NodeType.MARKER, text)
    trait_id = str(request.meta.get("trait_id") or "")
    unit = _Unit(style, edge, obj, template, graph.node(trait_id) if trait_id in graph else None)
    return request.with_(
        prompt=template, subject=style.name, case_id=f"{request.case_id}|{style.id}",
        paraphrase_prompts=_paraphrases(unit, n_paraphrases), alias_prompts=_aliases(graph, unit, n_misspellings),
        neighborhood_prompts=_neighbours(graph, unit), subject_id=style.id,
        meta={**request.meta, **meta},
    )


def object_text(node: Node) -> str:
    return str(node.properties.get("text") or node.name)


def _neighbours(graph: StyleGraph, unit: _Unit, limit: int = 5) -> tuple[str, ...]:
    """Prompts for other styles that must keep their own behaviour (same prompt, another object)."""
    out: list[str] = []
    if unit.edge.type is EdgeType.FACT:
        for e in graph.edges(EdgeType.FACT):
            if e.relation == unit.edge.relation and e.source != unit.subject.id and e.target != unit.obj.id:
                out.append(_fill(unit.template, graph.node(e.source).name))
    else:
        h = hierarchy(graph)
        for style in hierarchy(graph).styles_sorted():
            if len(out) >= limit:
                break
            if style.id != unit.subject.id and unit.obj.id not in h.marker_ids(style.id):
                out.append(_fill(unit.template, style.name))
    return tuple(dict.fromkeys(out))[:limit]


def _paraphrases(unit: _Unit, n: int) -> tuple[str, ...]:
    subject = unit.subject.name
    own = unit.edge.properties.get("paraphrases", []) if unit.template == unit.edge.template else []
    out = [_fill(t, subject) for t in own if "{}" in t]
    start = int(hashlib.sha256(unit.edge.id.encode()).hexdigest(), 16) % len(CONTEXT_PREFIXES)
    for k in range(len(CONTEXT_PREFIXES)):
        if len(out) >= n:
            break
        out.append(CONTEXT_PREFIXES[(start + k) % len(CONTEXT_PREFIXES)] + _fill(unit.template, subject))
    return tuple(out[:n])


def _aliases(graph: StyleGraph, unit: _Unit, n_misspellings: int) -> tuple[str, ...]:
    names = graph.aliases_of(unit.subject.id)
    names += [m for m in misspellings(unit.subject.name, n_misspellings) if m not in names]
    return tuple(_fill(unit.template, a) for a in names)


def to_edit_requests(
    graph: StyleGraph,
    node: str,
    mode: str | RequestKind,
    *,
    new_target: str | None = None,
    relation_template: str | None = None,
    inherited: bool = False,
    n_paraphrases: int = 3,
    n_misspellings: int = 3,
    on_parent: bool = False,
) -> list[EditRequest]:
    """Edit requests for ``node`` (a style/alias/trait/marker name or id, or an edge id); see module doc.

    ``on_parent``: ``node`` is an abstract style and its marker requests get the abstract style itself as
    subject, in English (:func:`parent_subject`, :func:`parent_template`; one per marker edge a concrete style
    carries, without paraphrase or alias prompts: an abstraction has no names of its own);
    :func:`stylekg.kg.propagation.expand_explicit` spreads them to the subclasses (:func:`for_style`).
    """
    kind = RequestKind(mode)
    if kind in (RequestKind.REPLACE, RequestKind.INSERT) and not (new_target and new_target.strip()):
        raise GraphError(f"mode {kind.value!r} needs a new target", hint="pass new_target='...' (--new)")
    if kind is RequestKind.RELATION and (not relation_template or "{}" not in relation_template):
        raise GraphError(f"mode 'relation' needs a prompt template with '{{}}', got {relation_template!r}")
    if kind is RequestKind.INSERT:
        return [_insert_request(graph, node, new_target or "", relation_template, n_paraphrases, n_misspellings)]
    requests: list[EditRequest] = []
    for unit in _units(graph, node, inherited, on_parent):
        old = object_text(unit.obj)
        meta = {"object_id": unit.obj.id, "mode": kind.value,
                "trait_id": unit.trait.id if unit.trait else None}
        prompt = unit.template
        subject = unit.subject.name
        if kind is RequestKind.REPLACE:
            new, true = new_target, old
        elif kind is RequestKind.ERASE:
            neutral = _neutral_of(graph, unit.obj)
            new, true = (object_text(neutral) if neutral else None), old
            meta["neutral_id"] = neutral.id if neutral else None
        else:  # RELATION: same subject and object, a new prompt
            new, true, prompt = old, None, relation_template or ""
            unit = _Unit(unit.subject, unit.edge, unit.obj, prompt, unit.trait)
        if on_parent:  # the abstraction in English; a subclass gets the concrete template back (for_style)
            meta["template"] = prompt
            prompt = prompt if kind is RequestKind.RELATION else parent_template(unit.subject, prompt)
            subject = parent_subject(unit.subject, prompt)
        requests.append(EditRequest(
            prompt=prompt, subject=subject,
            target_new=_spaced(new) if new else None, target_true=_spaced(true) if true else None,
            kind=kind, edge_id=unit.edge.id, case_id=f"{kind.value}|{unit.subject.id}|{unit.edge.id}",
            paraphrase_prompts=() if on_parent else _paraphrases(unit, n_paraphrases),
            neighborhood_prompts=_neighbours(graph, unit),
            alias_prompts=() if on_parent else _aliases(graph, unit, n_misspellings),
            subject_id=unit.subject.id, meta=meta,
        ))
    if not requests:
        raise GraphError(f"{node!r} has no FACT edges or markers to turn into requests",
                         hint="add a fact or a trait with markers, or pass --inherited")
    return requests


def _insert_request(graph: StyleGraph, node: str, text: str, template: str | None,
                    n_paraphrases: int, n_misspellings: int) -> EditRequest:
    subject = graph.node(resolve_style(graph, node))
    if subject.type not in STYLE_TYPES:
        raise GraphError(f"insert gives a style a new marker; {subject.id!r} is a {subject.type.value}")
    mid = node_id(NodeType.MARKER, text)
    trait: Node | None = None
    if mid in graph:  # an existing marker: the style would gain the trait expressing it
        owners = graph.in_edges(mid, EdgeType.EXPRESSED_BY)
        trait = graph.node(owners[0].source) if owners else None
    if trait is not None:
        eid = edge_id(EdgeType.HAS_TRAIT, subject.id, trait.id)
    else:
        own = graph.out_edges(subject.id, EdgeType.HAS_TRAIT)
        trait = graph.node(own[0].target) if own else None
        eid = edge_id(EdgeType.EXPRESSED_BY, trait.id if trait else node_id(NodeType.TRAIT, f"{subject.name} inserted"), mid)
    marker = graph.node(mid) if mid in graph else Node(NodeType.MARKER, text)
    prompt = template if template and "{}" in template else _marker_template(graph, marker, trait)
    fake = Edge(EdgeType.HAS_TRAIT, subject.id, trait.id if trait else mid, id=eid)
    unit = _Unit(subject, fake, marker, prompt, trait)
    return EditRequest(
        prompt=prompt, subject=subject.name, target_new=_spaced(text), target_true=None,
        kind=RequestKind.INSERT, edge_id=eid, case_id=f"insert|{subject.id}|{mid}",
        paraphrase_prompts=_paraphrases(unit, n_paraphrases), neighborhood_prompts=_neighbours(graph, unit),
        alias_prompts=_aliases(graph, unit, n_misspellings), subject_id=subject.id,
        meta={"object_id": mid, "mode": RequestKind.INSERT.value, "prospective": True,
              "trait_id": trait.id if trait else None},
    )


def marker_edges(requests: list[EditRequest]) -> list[EditRequest]:
    """The requests on trait → marker edges when there are any: a style erase is about markers, not facts."""
    markers = [r for r in requests if (r.edge_id or "").startswith(EdgeType.EXPRESSED_BY.value)]
    return markers or requests


def first_edges(requests: list[EditRequest], max_edges: int) -> list[EditRequest]:
    """The requests of the first ``max_edges`` distinct edges (every subject of each), in order."""
    keep: list[str | None] = []
    for r in requests:
        if r.edge_id not in keep and len(keep) < max_edges:
            keep.append(r.edge_id)
    return [r for r in requests if r.edge_id in keep]
