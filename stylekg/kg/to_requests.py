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

Every request keeps ``edge_id`` and gets paraphrase prompts (context prefixes and the fact's own
paraphrase templates, as in ROME's generalisation prompts), alias prompts (the subject's aliases and
generated misspellings) and neighbourhood prompts (other styles, same prompt, a different object).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..errors import GraphError
from ..requests import EditRequest, RequestKind
from .graph import StyleGraph
from .inheritance import hierarchy, resolve_style
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


@dataclass(frozen=True)
class _Unit:
    subject: Node
    edge: Edge  # FACT edge, or the EXPRESSED_BY edge of the marker
    obj: Node
    template: str
    trait: Node | None = None


def misspellings(name: str, n: int = 3) -> list[str]:
    """``n`` deterministic misspellings: adjacent swap, dropped letter, doubled letter, vowel change."""
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if len(letters) < 3:
        return []
    seed = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    out: list[str] = []
    vowels = "aeiou"
    for k in range(4 * n):
        i = letters[1 + (seed >> (8 * k)) % (len(letters) - 1)]
        op = k % 4
        if op == 0 and i + 1 < len(name) and name[i + 1].isalpha():
            cand = name[:i] + name[i + 1] + name[i] + name[i + 2:]
        elif op == 1:
            cand = name[:i] + name[i + 1:]
        elif op == 2:
            cand = name[:i] + name[i] + name[i:]
        elif name[i].lower() in vowels:
            cand = name[:i] + vowels[(vowels.index(name[i].lower()) + 1) % 5] + name[i + 1:]
        else:
            continue
        if cand != name and cand not in out:
            out.append(cand)
        if len(out) == n:
            break
    return out


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


def _units(graph: StyleGraph, start: str, inherited: bool) -> list[_Unit]:
    """Every (subject, edge, object) a request can be built from, starting at a node or edge id."""
    h = hierarchy(graph)
    edge = None
    if "->" in start:  # looks like an edge id (node names/ids never need the edge scan)
        try:
            edge = graph.edge(start)
        except GraphError:
            edge = None
    if edge is not None:
        if edge.type is EdgeType.FACT:
            return [_Unit(graph.node(edge.source), edge, graph.node(edge.target), edge.template)]
        if edge.type is EdgeType.EXPRESSED_BY:
            return _trait_units(graph, graph.node(edge.source), only=edge.target)
        raise GraphError(f"edge {edge.id!r} is {edge.type.value}: only FACT and EXPRESSED_BY edges map to requests")
    node = graph.node(resolve_style(graph, start))
    if node.type in STYLE_TYPES:
        units = [
            _Unit(node, e, graph.node(e.target), e.template) for e in graph.out_edges(node.id, EdgeType.FACT)
        ]
        for inh in h.effective_traits(node.id):
            if inh.distance > 0 and not inherited:
                continue
            trait = graph.node(inh.id)
            for e in graph.out_edges(trait.id, EdgeType.EXPRESSED_BY):
                marker = graph.node(e.target)
                units.append(_Unit(node, e, marker, _marker_template(graph, marker, trait), trait))
        return units
    if node.type in (NodeType.TRAIT, NodeType.ABSTRACT_STYLE):
        traits = [node] if node.type is NodeType.TRAIT else [
            graph.node(e.target) for e in graph.out_edges(node.id, EdgeType.HAS_TRAIT)
        ]
        return [u for t in traits for u in _trait_units(graph, t)]
    if node.type is NodeType.MARKER:
        return [u for e in graph.in_edges(node.id, EdgeType.EXPRESSED_BY)
                for u in _trait_units(graph, graph.node(e.source), only=node.id)]
    raise GraphError(f"node {node.id!r} is {node.type.value}: requests start at a style, trait, marker or edge")


def _trait_units(graph: StyleGraph, trait: Node, only: str | None = None) -> list[_Unit]:
    """Marker units of a trait for every concrete style carrying it (directly or by inheritance)."""
    carriers = sorted(hierarchy(graph).carriers_of_trait(trait.id))
    units = []
    for cid in carriers:
        subject = graph.node(cid)
        if subject.type not in STYLE_TYPES:
            continue
        for e in graph.out_edges(trait.id, EdgeType.EXPRESSED_BY):
            if only is None or e.target == only:
                marker = graph.node(e.target)
                units.append(_Unit(subject, e, marker, _marker_template(graph, marker, trait), trait))
    return units


def _object_text(node: Node) -> str:
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
) -> list[EditRequest]:
    """Edit requests for ``node`` (a style/alias/trait/marker name or id, or an edge id); see module doc."""
    kind = RequestKind(mode)
    if kind in (RequestKind.REPLACE, RequestKind.INSERT) and not (new_target and new_target.strip()):
        raise GraphError(f"mode {kind.value!r} needs a new target", hint="pass new_target='...' (--new)")
    if kind is RequestKind.RELATION and (not relation_template or "{}" not in relation_template):
        raise GraphError(f"mode 'relation' needs a prompt template with '{{}}', got {relation_template!r}")
    if kind is RequestKind.INSERT:
        return [_insert_request(graph, node, new_target or "", relation_template, n_paraphrases, n_misspellings)]
    requests: list[EditRequest] = []
    for unit in _units(graph, node, inherited):
        old = _object_text(unit.obj)
        meta = {"subject_id": unit.subject.id, "object_id": unit.obj.id, "mode": kind.value,
                "trait_id": unit.trait.id if unit.trait else None}
        prompt = unit.template
        if kind is RequestKind.REPLACE:
            new, true = new_target, old
        elif kind is RequestKind.ERASE:
            neutral = _neutral_of(graph, unit.obj)
            new, true = (_object_text(neutral) if neutral else None), old
            meta["neutral_id"] = neutral.id if neutral else None
        else:  # RELATION: same subject and object, a new prompt
            new, true, prompt = old, None, relation_template or ""
            unit = _Unit(unit.subject, unit.edge, unit.obj, prompt, unit.trait)
        requests.append(EditRequest(
            prompt=prompt, subject=unit.subject.name,
            target_new=_spaced(new) if new else None, target_true=_spaced(true) if true else None,
            kind=kind, edge_id=unit.edge.id, case_id=f"{kind.value}|{unit.subject.id}|{unit.edge.id}",
            paraphrase_prompts=_paraphrases(unit, n_paraphrases),
            neighborhood_prompts=_neighbours(graph, unit), alias_prompts=_aliases(graph, unit, n_misspellings),
            meta=meta,
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
        alias_prompts=_aliases(graph, unit, n_misspellings),
        meta={"subject_id": subject.id, "object_id": mid, "mode": "insert", "prospective": True,
              "trait_id": trait.id if trait else None},
    )
