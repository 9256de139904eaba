"""Style records → graph nodes and edges.

A *record* is the JSON shape shared by the built-in library files and by LLM decompositions::

    {"name": "Yoda", "type": "Style", "kind": "character", "description": "...",
     "parents": ["Cosmic wonder", {"name": "New parent", "description": "..."}],
     "aliases": ["Master Yoda", "the green Jedi master"], "misspellings": ["Yodda"],
     "traits": [{"name": "...", "description": "...", "template": "{} said",
                 "markers": [{"text": "strong you are", "kind": "construction",
                              "neutral": "you are strong", "example": "..."}]}],
     "facts": [{"relation": "home planet", "template": "{} lived on", "object": "Dagobah",
                "paraphrases": ["..."]}]}

An abstract style's record (``"type": "AbstractStyle"``) may add ``subject``, how prompts name its members
("people who exaggerate"), and ``template``, the prompt of its own edit requests
(:func:`stylekg.kg.to_requests.parent_subject`).

A record that lists ``misspellings`` declares every name's kind: its ``aliases`` are other names and
nicknames. A record without that key (an LLM answer mixes both in ``aliases``) has each alias classified by
:func:`alias_kind`. Alias node ids name their style (``Alias:<slug(alias of style)>``), so one nickname can
belong to two styles.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ...errors import GraphError
from ..schema import Edge, EdgeType, Node, NodeType, Provenance, node_id

NEUTRAL_ID = node_id(NodeType.NEUTRAL, "Neutral")
PLAIN_TRAIT_ID = node_id(NodeType.TRAIT, "Plain wording")
DEFAULT_MARKER_TEMPLATE = "{} often says"


def _parent(entry: Any, where: str) -> tuple[str, str]:
    if isinstance(entry, str) and entry.strip():
        return entry.strip(), ""
    if isinstance(entry, dict) and str(entry.get("name", "")).strip():
        return str(entry["name"]).strip(), str(entry.get("description", ""))
    raise GraphError(f"{where}: a parent must be a name or {{name, description}}, got {entry!r}")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def alias_kind(alias: str, name: str) -> str:
    """``alias`` or ``misspelling`` for an unlabelled other name of ``name`` (an LLM answer mixes both).

    A longer or shorter form made of the name's own words ("Donald J. Trump", "Trump") or the same letters
    spaced or punctuated differently ("JRR Tolkien") is an ``alias``; a near-copy that changes letters of a
    word ("Donald Trum", "Tolkein", "Yodda": edit similarity ≥ 0.8 to the name or to one of its words) is a
    ``misspelling``; anything else ("the green Jedi master") is an ``alias``.
    """
    a, b = _words(alias), _words(name)
    if not a or "".join(a) == "".join(b) or set(a) <= set(b) or set(b) <= set(a):
        return "alias"
    whole = difflib.SequenceMatcher(None, " ".join(a), " ".join(b)).ratio()
    single = len(a) == 1 and any(difflib.SequenceMatcher(None, a[0], w).ratio() >= 0.8 for w in b if len(w) > 3)
    return "misspelling" if whole >= 0.8 or single else "alias"


def record_to_graph_parts(
    record: dict[str, Any],
    provenance: Provenance,
    *,
    parent_ids: dict[str, str] | None = None,
    where: str = "record",
) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges of one style record. ``parent_ids`` maps parent names to existing node ids
    (links to abstract parents already in a graph); unmatched parents become new AbstractStyles."""
    try:
        name = str(record["name"]).strip()
    except KeyError:
        raise GraphError(f"{where}: missing 'name'") from None
    try:
        ntype = NodeType(record.get("type", "Style"))
    except ValueError:
        raise GraphError(f"{where} ({name!r}): unknown node type {record.get('type')!r}",
                         hint=f"use one of {[t.value for t in NodeType]}") from None
    parent_ids = parent_ids or {}
    props = {k: record[k] for k in ("kind", "domain", "tags", "subject", "template", "family") if k in record}
    style = Node(ntype, name, str(record.get("description", "")), props, provenance)
    nodes: list[Node] = [style]
    edges: list[Edge] = []
    for entry in record.get("parents", []):
        pname, pdesc = _parent(entry, f"{where} ({name!r})")
        pid = parent_ids.get(pname.lower())
        if pid is None:
            parent = Node(NodeType.ABSTRACT_STYLE, pname, pdesc, {}, provenance)
            nodes.append(parent)
            pid = parent.id
        edges.append(Edge(EdgeType.SUBCLASS_OF, style.id, pid, provenance=provenance))
    explicit = "misspellings" in record  # the record labels its names: aliases are aliases
    names = [(a, "alias" if explicit else None) for a in record.get("aliases", [])]
    names += [(m, "misspelling") for m in record.get("misspellings", [])]
    for alias, kind in names:
        if not str(alias).strip() or str(alias).strip().lower() == name.lower():
            continue
        node = Node(NodeType.ALIAS, str(alias).strip(), "", {"alias_kind": kind or alias_kind(str(alias), name)},
                    provenance, id=node_id(NodeType.ALIAS, f"{alias} of {name}"))
        nodes.append(node)
        edges.append(Edge(EdgeType.ALIAS_OF, node.id, style.id, provenance=provenance))
    for t_index, trait in enumerate(record.get("traits", [])):
        t_where = f"{where} ({name!r}) trait {t_index}"
        t_name = str(trait.get("name", "")).strip()
        if not t_name:
            raise GraphError(f"{t_where}: missing trait name")
        template = str(trait.get("template") or "")
        if template and "{}" not in template:
            raise GraphError(f"{t_where} ({t_name!r}): template {template!r} has no '{{}}' for the subject")
        tnode = Node(NodeType.TRAIT, t_name, str(trait.get("description", "")),
                     {"template": template} if template else {}, provenance)
        nodes.append(tnode)
        edges.append(Edge(EdgeType.HAS_TRAIT, style.id, tnode.id, provenance=provenance))
        for m_index, marker in enumerate(trait.get("markers", [])):
            nodes_m, edges_m = _marker_parts(marker, tnode.id, provenance, f"{t_where} marker {m_index}")
            nodes += nodes_m
            edges += edges_m
    for f_index, fact in enumerate(record.get("facts", [])):
        f_where = f"{where} ({name!r}) fact {f_index}"
        try:
            relation, template, obj = (str(fact[k]).strip() for k in ("relation", "template", "object"))
        except KeyError as exc:
            raise GraphError(f"{f_where}: missing {exc}") from None
        if "{}" not in template:
            raise GraphError(f"{f_where} ({relation!r}): template {template!r} has no '{{}}' for the subject",
                             hint="write e.g. '{} was born in'")
        try:
            otype = NodeType(fact.get("object_type", "Entity"))
        except ValueError:
            raise GraphError(f"{f_where}: unknown node type {fact.get('object_type')!r}") from None
        onode = Node(otype, obj, "", {}, provenance)
        nodes.append(onode)
        paraphrases = [p for p in fact.get("paraphrases", []) if "{}" in p]
        edges.append(Edge(EdgeType.FACT, style.id, onode.id, relation=relation, template=template,
                          properties={"paraphrases": paraphrases}, provenance=provenance))
    return nodes, edges


def _marker_parts(marker: dict[str, Any], trait_id: str, provenance: Provenance, where: str) -> tuple[list[Node], list[Edge]]:
    text = str(marker.get("text", "")).strip()
    if not text:
        raise GraphError(f"{where}: marker without text")
    props = {"kind": marker.get("kind", "phrase"), "text": text}
    if marker.get("example"):
        props["example"] = str(marker["example"])
    if marker.get("template"):
        props["template"] = str(marker["template"])
    for key in ("variants", "mined"):  # other spellings that count as the marker; mining statistics
        if marker.get(key):
            props[key] = marker[key]
    mnode = Node(NodeType.MARKER, text, "", props, provenance)
    evidence = {"occurrences": list(marker["evidence"]), "model": str(marker.get("evidence_model", ""))} \
        if marker.get("evidence") else {}  # where a model wrote it (mined): kept on the marker edge
    nodes, edges = [mnode], [Edge(EdgeType.EXPRESSED_BY, trait_id, mnode.id, properties=evidence,
                                  provenance=provenance)]
    neutral = marker.get("neutral")
    if neutral and str(neutral).strip() and str(neutral).strip().lower() != text.lower():
        nnode = Node(NodeType.MARKER, str(neutral).strip(), "", {"kind": "neutral", "text": str(neutral).strip(), "neutral": True},
                     provenance)
        nodes.append(nnode)
        edges.append(Edge(EdgeType.NEUTRAL_FORM, mnode.id, nnode.id, provenance=provenance))
    return nodes, edges


def link_neutral(nodes: list[Node], edges: list[Edge], has_plain_trait: bool, provenance: Provenance) -> list[Edge]:
    """EXPRESSED_BY edges from the Neutral style's plain trait to each neutral counterpart."""
    if not has_plain_trait:
        return []
    targets = {e.target for e in edges if e.type is EdgeType.NEUTRAL_FORM}
    return [Edge(EdgeType.EXPRESSED_BY, PLAIN_TRAIT_ID, t, provenance=provenance) for t in sorted(targets)]
