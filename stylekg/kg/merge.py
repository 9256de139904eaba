"""Merging one style graph into another: entities resolved by type and normalised name, every change reported.

:func:`plan_merge` works out, without touching either graph, what merging ``other`` into ``graph`` does:

* a node of ``other`` *matches* the node of ``graph`` with its id, or, for an ``Alias``, the alias of the same
  (normalised) name pointing at the same style (alias ids name their style: ``Alias:yodda-of-yoda``);
* a node whose id is new but whose type and normalised name (:func:`norm_name`) belong to
  another node of ``graph`` is a **conflict** ("two AbstractStyles named 'Exaggeration' under different ids"),
  as is a node whose type differs from the node of the same id;
* for a matched node or edge each field (description, every property and annotation, an edge's weight and
  template) is compared: a value ``other`` leaves empty changes nothing; a value ``graph`` lacks is filled in
  (a *change*, reported); two different values are a **conflict**;
* a marker that would end up with two neutral forms is a **conflict**.

``on_conflict`` decides what a conflict does: ``refuse`` (the default: :meth:`MergePlan.error` lists them all
and nothing is merged), ``theirs`` (``other``'s value wins, reported as a change; a name clash is matched to the
existing node) or ``ours`` (``graph``'s value stays, reported as kept; conflicting edges of ``other`` are left
out). :func:`apply_merge` applies a plan atomically and re-validates the graph (cycles, neutral forms).
Provenance is never compared: the node already here keeps its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import GraphError
from .schema import Edge, EdgeType, Node, NodeType, edge_id

# ``graph`` imports this module (StyleGraph.merge), so the graphs here are duck-typed: no import back
POLICIES = ("refuse", "theirs", "ours")


def norm_name(name: str) -> str:
    """A name with case, spacing and punctuation aside ("Captain  Jack-Sparrow" ~ "captain jack sparrow")."""
    return " ".join(re.findall(r"\w+", name.casefold()))


@dataclass(frozen=True)
class Change:
    """One field of an existing node or edge that the merge changes (or, ``applied=False``, keeps)."""

    target: str  # node or edge id in the merged graph
    field: str  # "description", "properties.kind", "annotations.x", "weight", "template", "neutral form"
    old: Any
    new: Any
    applied: bool = True

    def line(self) -> str:
        mark, verb = ("~", "→") if self.applied else ("=", "kept; file has")
        return f"{mark} {self.target} {self.field}: {_show(self.old)} {verb} {_show(self.new)}"


@dataclass
class MergePlan:
    """What merging ``source`` into ``target`` adds and changes; unpacks as ``(added_nodes, added_edges)``."""

    target: str
    source: str
    on_conflict: str = "refuse"
    nodes: list[Node] = field(default_factory=list)  # new nodes, and new versions of changed ones
    edges: list[Edge] = field(default_factory=list)  # new edges, and new versions of changed ones
    removed_edges: list[str] = field(default_factory=list)  # replaced neutral forms (on_conflict="theirs")
    added_nodes: list[str] = field(default_factory=list)
    added_edges: list[str] = field(default_factory=list)
    matched: dict[str, str] = field(default_factory=dict)  # source id -> the target id it was resolved to
    changes: list[Change] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter((self.added_nodes, self.added_edges))

    @property
    def applied_changes(self) -> list[Change]:
        return [c for c in self.changes if c.applied]

    @property
    def kept(self) -> list[Change]:
        return [c for c in self.changes if not c.applied]

    def error(self) -> GraphError:
        n = len(self.conflicts)
        return GraphError(
            f"merging {self.source!r} into {self.target!r} refused: {n} conflict{'s' * (n != 1)}: "
            + "; ".join(self.conflicts),
            hint="use the existing ids or values in the file, or choose --on-conflict theirs|ours; "
                 "--dry-run shows the whole diff")

    def diff(self) -> list[str]:
        """The plan as lines: ``+`` added, ``~`` changed, ``=`` matched or kept, ``!`` conflict."""
        lines = [f"+ node {i}" for i in self.added_nodes] + [f"+ edge {i}" for i in self.added_edges]
        lines += [f"- edge {i}" for i in self.removed_edges]
        lines += [f"= {src} is {dst} here (same type and name)" for src, dst in sorted(self.matched.items())]
        lines += [c.line() for c in self.changes]
        lines += [f"! {c}" for c in self.conflicts]
        return lines

    def summary(self) -> dict[str, Any]:
        return {"added_nodes": self.added_nodes, "added_edges": self.added_edges,
                "removed_edges": self.removed_edges, "matched": self.matched,
                "changes": [{"target": c.target, "field": c.field, "old": c.old, "new": c.new, "applied": c.applied}
                            for c in self.changes],
                "conflicts": self.conflicts}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class _Planner:
    def __init__(self, graph: Any, other: Any, on_conflict: str) -> None:
        self.norm = norm_name
        self.graph, self.other = graph, other
        self.plan = MergePlan(graph.name, other.name, on_conflict)
        self.ids: dict[str, str] = {}  # other id -> id in the merged graph
        self.by_name: dict[tuple[NodeType, str], list[str]] = {}
        for n in graph.nodes():
            if n.type is not NodeType.ALIAS:
                self.by_name.setdefault((n.type, norm_name(n.name)), []).append(n.id)

    # ---- fields ----------------------------------------------------------------------------------
    def _field(self, target: str, name: str, ours: Any, theirs: Any) -> Any:
        """The merged value of one field, recording a change or a conflict."""
        if _empty(theirs) or theirs == ours:
            return ours
        if _empty(ours):
            self.plan.changes.append(Change(target, name, ours, theirs))
            return theirs
        policy = self.plan.on_conflict
        if policy == "theirs":
            self.plan.changes.append(Change(target, name, ours, theirs))
            return theirs
        if policy == "ours":
            self.plan.changes.append(Change(target, name, ours, theirs, applied=False))
            return ours
        self.plan.conflicts.append(f"{target} {name} is {_show(ours)} here but {_show(theirs)} in {self.other.name!r}")
        return ours

    def _dict(self, target: str, prefix: str, ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        out = dict(ours)
        for key in sorted(set(theirs)):
            out[key] = self._field(target, f"{prefix}.{key}", ours.get(key), theirs[key])
        return {k: v for k, v in out.items() if k in ours or not _empty(v)}

    # ---- nodes -----------------------------------------------------------------------------------
    def _resolve_nodes(self) -> None:
        seen: dict[tuple[NodeType, str], str] = {}
        for n in self.other.nodes():
            if n.type is NodeType.ALIAS:
                continue
            key = (n.type, self.norm(n.name))
            if key in seen and seen[key] != n.id:
                self.plan.conflicts.append(f"{self.other.name!r} has two {n.type.value} nodes named {n.name!r}: "
                                           f"{seen[key]} and {n.id}")
            seen.setdefault(key, n.id)
            if n.id in self.graph:
                mine = self.graph.node(n.id)
                if mine.type is not n.type:
                    self.plan.conflicts.append(f"{n.id} is a {mine.type.value} here but a {n.type.value} "
                                               f"in {self.other.name!r}")
                self.ids[n.id] = n.id
                continue
            same = [i for i in self.by_name.get(key, []) if i != n.id]
            if same and self.plan.on_conflict == "refuse":
                self.plan.conflicts.append(f"{n.type.value} {n.name!r} is {same[0]} here but {n.id} in "
                                           f"{self.other.name!r} (one entity, two ids)")
            if same and self.plan.on_conflict != "refuse":
                self.ids[n.id] = self.plan.matched[n.id] = same[0]
            else:
                self.ids[n.id] = n.id
        aliases: dict[tuple[str, str], str] = {}
        for a in self.graph.nodes(NodeType.ALIAS):
            for e in self.graph.out_edges(a.id, EdgeType.ALIAS_OF):
                aliases.setdefault((self.norm(a.name), e.target), a.id)
        for n in self.other.nodes(NodeType.ALIAS):
            if n.id in self.graph:
                mine = self.graph.node(n.id)
                if mine.type is not n.type:
                    self.plan.conflicts.append(f"{n.id} is a {mine.type.value} here but an Alias "
                                               f"in {self.other.name!r}")
                self.ids[n.id] = n.id
                continue
            styles = [self.ids.get(e.target, e.target) for e in self.other.out_edges(n.id, EdgeType.ALIAS_OF)]
            hit = next((aliases[(self.norm(n.name), s)] for s in styles if (self.norm(n.name), s) in aliases), None)
            self.ids[n.id] = hit or n.id
            if hit:
                self.plan.matched[n.id] = hit

    def _merge_nodes(self) -> None:
        for n in self.other.nodes():
            nid = self.ids[n.id]
            if nid not in self.graph:
                if nid == n.id:
                    self.plan.nodes.append(n)
                    self.plan.added_nodes.append(n.id)
                continue
            mine = self.graph.node(nid)
            if mine.type is not n.type:
                continue  # already a conflict
            before = len(self.plan.applied_changes)
            if self.norm(mine.name) != self.norm(n.name):
                self._field(nid, "name", mine.name, n.name)
            description = self._field(nid, "description", mine.description, n.description)
            properties = self._dict(nid, "properties", mine.properties, n.properties)
            annotations = self._dict(nid, "annotations", mine.annotations, n.annotations)
            renamed = any(c.target == nid and c.field == "name" for c in self.plan.applied_changes[before:])
            name = n.name if renamed else mine.name
            if len(self.plan.applied_changes) > before:
                self.plan.nodes.append(replace(mine, name=name, description=description, properties=properties,
                                               annotations=annotations))

    # ---- edges -----------------------------------------------------------------------------------
    def _existing_edge(self, e: Edge) -> Edge | None:
        if e.source not in self.graph:
            return None
        for mine in self.graph.out_edges(e.source, e.type):
            if mine.id == e.id or (mine.target == e.target and mine.relation == e.relation):
                return mine
        return None

    def _merge_edges(self) -> None:
        for e in self.other.edges():
            source, target = self.ids.get(e.source, e.source), self.ids.get(e.target, e.target)
            derived = e.id == edge_id(e.type, e.source, e.target, e.relation)
            moved = replace(e, source=source, target=target,
                            id=edge_id(e.type, source, target, e.relation) if derived else e.id)
            mine = self._existing_edge(moved)
            if mine is None:
                if moved.type is EdgeType.NEUTRAL_FORM and not self._neutral_ok(moved):
                    continue
                if moved.id not in self.plan.added_edges:
                    self.plan.edges.append(moved)
                    self.plan.added_edges.append(moved.id)
                continue
            before = len(self.plan.applied_changes)
            weight = self._field(mine.id, "weight", mine.weight, e.weight if e.weight != mine.weight else None)
            template = self._field(mine.id, "template", mine.template, e.template)
            properties = self._dict(mine.id, "properties", mine.properties, e.properties)
            annotations = self._dict(mine.id, "annotations", mine.annotations, e.annotations)
            if len(self.plan.applied_changes) > before:
                self.plan.edges.append(replace(mine, weight=weight, template=template, properties=properties,
                                               annotations=annotations))

    def _neutral_ok(self, edge: Edge) -> bool:
        """Whether a new NEUTRAL_FORM edge may join (the marker keeps one neutral form); records the conflict."""
        ours = [e for e in self.graph.out_edges(edge.source, EdgeType.NEUTRAL_FORM) if e.target != edge.target]
        ours += [e for e in self.plan.edges if e.type is EdgeType.NEUTRAL_FORM and e.source == edge.source
                 and e.target != edge.target]
        if not ours:
            return True
        old = ours[0]
        name = self._name(edge.source)
        old_text, new_text = self._name(old.target), self._name(edge.target)
        policy = self.plan.on_conflict
        if policy == "ours":
            self.plan.changes.append(Change(edge.source, "neutral form", old_text, new_text, applied=False))
            return False
        if policy == "theirs" and old.id not in [e.id for e in self.plan.edges]:
            self.plan.changes.append(Change(edge.source, "neutral form", old_text, new_text))
            self.plan.removed_edges.append(old.id)
            return True
        self.plan.conflicts.append(f"marker {name!r} would have two neutral forms: {old_text!r} (here) and "
                                   f"{new_text!r} (in {self.other.name!r})")
        return False

    def _name(self, node_id: str) -> str:
        if node_id in self.graph:
            return self.graph.node(node_id).name
        hit = next((n for n in self.plan.nodes if n.id == node_id), None)
        return hit.name if hit else node_id

    def run(self) -> MergePlan:
        self._resolve_nodes()
        self._merge_nodes()
        self._merge_edges()
        return self.plan


def plan_merge(graph: Any, other: Any, *, on_conflict: str = "refuse") -> MergePlan:
    """What merging ``other`` into ``graph`` would add, change and refuse (see the module doc); changes nothing."""
    if on_conflict not in POLICIES:
        raise GraphError(f"unknown conflict policy {on_conflict!r}", hint=f"use one of {', '.join(POLICIES)}")
    return _Planner(graph, other, on_conflict).run()


def apply_merge(graph: Any, plan: MergePlan) -> None:
    """Apply ``plan`` atomically and re-validate; raises :meth:`MergePlan.error` when it lists conflicts."""
    if plan.conflicts:
        raise plan.error()
    with graph.atomic():
        for node in plan.nodes:
            graph.add_node(node, replace=node.id in graph)
        for eid in plan.removed_edges:
            graph.remove_edge(eid)
        for edge in plan.edges:
            if edge.id not in plan.added_edges:
                graph.remove_edge(edge.id)  # a changed edge: its new version replaces it
            graph.add_edge(edge)
        graph.validate()
