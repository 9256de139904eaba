"""The audit stage of ``stylekg run`` with a prompt set: every measured node's change, per marker, rises included.

From the run's graph it lists what to count (:func:`audit_plan`): for the edited node, each subclass and each
unrelated style, the style's **own** markers (its inherited ones when it has none), each own trait, each marker
and each marker's neutral form, on the held-out prompts of the style's family (its ``family`` property names a
``category`` of the prompt set; every held-out prompt when it has none). :func:`audit` counts them in the
held-out answers before and after the edit, adds the model's other frequent n-grams and, per node, the
teacher-forced share held at the places the unedited model wrote its markers (the second yardstick, beside the
generated one, so the two can disagree in plain sight), and returns an
:class:`EffectsReport`: rows per node, what rose (substitutions) and the effect matrix of the run (the edited
nodes × every measured node). ``docs/evaluation.md`` ("The audit") documents the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..evaluation.generated_style import Generations
from ..evaluation.node_effects import MeasuredNode, audit_nodes, frequent_ngrams, phrase_variants, substitutions
from ..evaluation.prompt_sets import PromptSet
from ..kg.graph import StyleGraph
from ..kg.material import style_markers
from ..material import Marker, StyleMaterial
from ..run_summary import Record

NGRAM_TOP = 150  # frequent n-grams audited from each of the before and the after answers


@dataclass
class EffectsReport(Record):
    """What the audit found (written as the summary's ``effects`` section and as ``effects.json``)."""

    edited: list[str]  # the nodes whose requests the edit carried
    propagate: str
    rows: list[dict[str, Any]]  # NodeEffect.to_dict() per graph node
    substitutions: list[dict[str, Any]]  # what rose: graph nodes and n-grams, the largest rise first
    ngrams: list[dict[str, Any]] = field(default_factory=list)  # every audited n-gram
    matrix: dict[str, Any] = field(default_factory=dict)  # {"rows": edited, "columns": node ids, "change", "direction"}


def _family(graph: StyleGraph, style_id: str, prompts: PromptSet) -> tuple[str, tuple[int, ...] | None]:
    family = str(graph.node(style_id).properties.get("family") or "")
    idx = prompts.family(family) if family else ()
    return (family, idx) if idx else ("", None)


def audit_plan(graph: StyleGraph, styles: list[tuple[str, str]],
               prompts: PromptSet) -> tuple[list[MeasuredNode], dict[str, tuple[str, ...]]]:
    """The nodes to count for ``styles`` ((style id, role) pairs, the edited node first) and each phrase's
    variants (inflections and graph spellings)."""
    nodes: dict[str, MeasuredNode] = {}
    extra: dict[str, tuple[str, ...]] = {}
    for sid, role in styles:
        style = graph.node(sid)
        family, idx = _family(graph, sid, prompts)
        own = [m for m in style_markers(graph, sid, own_only=True) if not m.is_neutral]
        markers = own or [m for m in style_markers(graph, sid) if not m.is_neutral]
        if not markers:
            continue
        kind = style.type.value if own else f"{style.type.value} (inherited markers)"
        nodes.setdefault(sid, MeasuredNode(sid, style.name, kind, tuple(dict.fromkeys(m.phrase for m in markers)),
                                           idx, family, "", role))
        if not own:
            continue
        by_trait: dict[str, list[str]] = {}
        for m in own:
            extra[m.phrase] = m.variants
            by_trait.setdefault(str(m.trait_id), []).append(m.phrase)
            if m.marker_id:
                nodes.setdefault(m.marker_id, MeasuredNode(m.marker_id, m.phrase, "Marker", (m.phrase,), idx, family,
                                                           style.name, role))
            if m.neutral and m.neutral_id:
                nodes.setdefault(m.neutral_id, MeasuredNode(m.neutral_id, m.neutral, "Neutral form", (m.neutral,),
                                                            idx, family, style.name, role))
        for trait_id, phrases in by_trait.items():
            nodes.setdefault(trait_id, MeasuredNode(trait_id, graph.node(trait_id).name, "Trait", tuple(phrases), idx,
                                                    family, style.name, role))
    phrases = [p for n in nodes.values() for p in n.phrases]
    return list(nodes.values()), phrase_variants(phrases, extra)


def edited_nodes(graph: StyleGraph, node_id: str, requests: list[Any]) -> list[str]:
    """The edited node and every style whose *own* marker edges the requests carry (a subclass whose requests an
    explicit propagation added); a request that only names a subclass as its subject while editing the parent's
    edge does not make the subclass edited."""
    from ..kg.schema import EdgeType

    out = [node_id]
    expressed = {e.id for e in graph.edges(EdgeType.EXPRESSED_BY)}
    for r in requests:
        if r.edge_id not in expressed:
            continue
        trait = graph.edge(r.edge_id).source
        owners = {e.source for e in graph.in_edges(trait, EdgeType.HAS_TRAIT)}
        subject = getattr(r, "subject_id", None) or r.meta.get("subject_id")
        out += [subject] if subject in owners else [o for o in owners if o == node_id]
    return list(dict.fromkeys(out))


def teacher_forced_markers(lm: Any, markers: list[Marker], answers: Generations,
                           subject: str = "assistant") -> dict[str, list[float]]:
    """Per marker phrase, at every place the *unedited* model wrote it in its held-out ``answers`` (those with a
    neutral form): ``[n, places where P(marker) > P(neutral), summed mean log P(marker)]`` under ``lm`` as it is
    now. Empty when there is no such place or the contexts lack ``subject`` (a model without a chat template)."""
    from ..errors import EditError
    from .measure import request_scores
    from .occurrences import context_requests, marker_contexts

    material = StyleMaterial("audit", markers=tuple({m.phrase: m for m in markers if m.neutral}.values()))
    contexts = [c for c in marker_contexts(lm.tokenizer, material, answers) if c.neutral] if material.markers else []
    if not contexts:
        return {}
    try:
        requests = context_requests(contexts, subject)
    except EditError:
        return {}
    out: dict[str, list[float]] = {}
    for context, score in zip(contexts, request_scores(lm, requests)):
        row = out.setdefault(context.phrase, [0.0, 0.0, 0.0])
        row[0] += 1
        row[1] += score["holds"]
        row[2] += score["marker_logprob"]
    return out


def audited_markers(graph: StyleGraph, styles: list[tuple[str, str]]) -> list[Marker]:
    """The markers :func:`audit_plan` counts (own markers, or inherited ones for a style without any)."""
    out: dict[str, Marker] = {}
    for sid, _ in styles:
        own = [m for m in style_markers(graph, sid, own_only=True) if not m.is_neutral]
        for m in own or [m for m in style_markers(graph, sid) if not m.is_neutral]:
            out.setdefault(m.phrase, m)
    return list(out.values())


def _with_teacher_forced(row: dict[str, Any], phrases: tuple[str, ...], tf: Mapping[str, Mapping[str, list[float]]]) -> None:
    """Add the node's teacher-forced share held (P(marker) > P(neutral)) before and after, pooled over its
    phrases' held-out places, beside its generated rates."""
    before, after = tf.get("before") or {}, tf.get("after") or {}
    n = sum(before[p][0] for p in phrases if p in before)
    if not n:
        return
    held = {when: sum(d[p][1] for p in phrases if p in d) / n for when, d in (("before", before), ("after", after))}
    row["teacher_forced"] = {"n": int(n), "held_before": held["before"], "held_after": held["after"]}
    row["metrics"].update({"tf_n": float(n), "tf_held_before": held["before"], "tf_held_after": held["after"]})


def audit(graph: StyleGraph, edited: list[str], styles: list[tuple[str, str]], prompts: PromptSet,
          before: Generations, after: Generations, *, propagate: str = "", seed: int = 0,
          teacher_forced: Mapping[str, Mapping[str, list[float]]] | None = None) -> EffectsReport:
    """Count every planned node and the frequent n-grams before and after (module doc); ``teacher_forced``
    ({"before": ..., "after": ...} of :func:`teacher_forced_markers`) adds the teacher-forced yardstick per node."""
    nodes, variants = audit_plan(graph, styles, prompts)
    effects = audit_nodes(before, after, nodes, variants, seed=seed)
    grams = frequent_ngrams(before, after, top=NGRAM_TOP, skip=[p for n in nodes for p in n.phrases], seed=seed)
    rows = [e.to_dict() for e in effects]
    for node, row in zip(nodes, rows):
        _with_teacher_forced(row, node.phrases, teacher_forced or {})
    matrix = {"rows": list(edited), "columns": [e.node_id for e in effects],
              "change": [[e.change for e in effects]], "direction": [[e.direction for e in effects]]}
    return EffectsReport(list(edited), propagate, rows, [e.to_dict() for e in substitutions([*effects, *grams])],
                         [g.to_dict() for g in grams], matrix)


__all__ = ["EffectsReport", "audit", "edited_nodes", "audit_plan", "audited_markers", "teacher_forced_markers"]
