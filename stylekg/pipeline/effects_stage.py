"""The audit stage of ``stylekg run`` with a prompt set: every measured node's change, per marker, rises included.

From the run's graph it lists what to count (:func:`audit_plan`): for the edited node, each subclass and each
unrelated style, the style's **own** markers (its inherited ones when it has none), each own trait, each marker
and each marker's neutral form, on the held-out prompts of the style's family (its ``family`` property names a
``category`` of the prompt set; every held-out prompt when it has none). :func:`audit` counts them in the
held-out answers before and after the edit, adds the model's other frequent n-grams, and returns an
:class:`EffectsReport`: rows per node, what rose (substitutions) and the effect matrix of the run (the edited
nodes × every measured node). ``docs/evaluation.md`` ("The audit") documents the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..evaluation.generated_style import Generations
from ..evaluation.node_effects import MeasuredNode, audit_nodes, frequent_ngrams, phrase_variants, substitutions
from ..evaluation.prompt_sets import PromptSet
from ..kg.graph import StyleGraph
from ..kg.material import style_markers
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


def audit(graph: StyleGraph, edited: list[str], styles: list[tuple[str, str]], prompts: PromptSet,
          before: Generations, after: Generations, *, propagate: str = "", seed: int = 0) -> EffectsReport:
    """Count every planned node and the frequent n-grams before and after (module doc)."""
    nodes, variants = audit_plan(graph, styles, prompts)
    effects = audit_nodes(before, after, nodes, variants, seed=seed)
    grams = frequent_ngrams(before, after, top=NGRAM_TOP, skip=[p for n in nodes for p in n.phrases], seed=seed)
    rows = [e.to_dict() for e in effects]
    matrix = {"rows": list(edited), "columns": [e.node_id for e in effects],
              "change": [[e.change for e in effects]], "direction": [[e.direction for e in effects]]}
    return EffectsReport(list(edited), propagate, rows, [e.to_dict() for e in substitutions([*effects, *grams])],
                         [g.to_dict() for g in grams], matrix)


__all__ = ["EffectsReport", "audit", "audit_plan"]
