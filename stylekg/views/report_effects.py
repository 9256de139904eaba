"""The report's audit section: every measured node's change, on its own family's held-out answers, rises included.

Reads the run summary's ``effects`` section (``pipeline/effects_stage.py``); never a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..run_summary import RunSummary
from .report_tables import Cell, Section, Table, fmt

CLASSIFIER_MIN_ACCURACY = 0.75
"""Below this held-out accuracy the style classifier's probability is left out of the tables (a note says why)."""

_DIRECTION_CLASS = {"fell": "good", "rose": "bad", "unchanged": "flat", "absent": "flat"}
STYLE_KINDS = ("AbstractStyle", "Style", "AbstractStyle (inherited markers)", "Style (inherited markers)")


def _ci(rate: Mapping[str, Any]) -> str:
    return f"{rate['per_1k']:.2f} [{rate['low']:.2f}, {rate['high']:.2f}]"


def _row(r: Mapping[str, Any], *first: str) -> list[Cell]:
    b, a = r["before"], r["after"]
    cls = _DIRECTION_CLASS.get(r["direction"], "")
    return [*(Cell(fmt(x)) for x in first), Cell(_ci(b), "num"), Cell(_ci(a), "num"),
            Cell(f"{b['hits']} → {a['hits']}", "num"), Cell(str(b["n_prompts"]), "num"), Cell(r["direction"], cls),
            Cell(_tf(r.get("teacher_forced")), "num")]


def _tf(tf: Mapping[str, Any] | None) -> str:
    if not tf:
        return "—"
    return f"{tf['held_before']:.0%} → {tf['held_after']:.0%} (n={tf['n']})"


HEAD = ["before [95% CI]", "after [95% CI]", "hits", "prompts", "direction", "teacher-forced held"]


def effects_section(summary: RunSummary) -> Section | None:
    """Styles (own markers), traits, markers and neutral forms before and after; what rose; the effect matrix."""
    eff = summary.effects
    if not eff:
        return None
    section = Section("effects", "What happened to every node (the audit)")
    section.notes.append(
        f"Edited: {', '.join(eff.get('edited') or [])} (propagate {eff.get('propagate') or '?'}). Each node is "
        "counted on the held-out answers of its own prompt family (a style's `family` property; every held-out "
        "prompt without one), per 1,000 generated tokens with a 95% bootstrap interval over prompts. A style's "
        "row counts its own markers (its inherited ones when it has none). Direction: fell / rose when the two "
        "intervals are apart, unchanged when they overlap, absent when never written before or after. "
        "Teacher-forced held: at the held-out places where the unedited model wrote the node's markers, the share "
        "where P(marker) > P(neutral form), before → after (the other yardstick; the two may disagree).")
    rows = eff.get("rows") or []
    styles = [r for r in rows if r["kind"] in STYLE_KINDS]
    section.tables.append(Table(["style", "kind", "role", "family", *HEAD],
                                [_row(r, r["name"], r["kind"], r["role"], r["family"] or "all") for r in styles],
                                "styles: own markers on their own family"))
    parts = [r for r in rows if r["kind"] not in STYLE_KINDS]
    section.tables.append(Table(["node", "kind", "of style", "family", *HEAD],
                                [_row(r, r["name"], r["kind"], r["owner"], r["family"] or "all") for r in parts],
                                "traits, markers and neutral forms"))
    subs = eff.get("substitutions") or []
    if subs:
        section.tables.append(Table(["phrase", "kind", *HEAD], [_row(r, r["name"], r["kind"]) for r in subs[:20]],
                                    "what rose (graph nodes and the model's frequent n-grams), largest rise first"))
    else:
        section.notes.append("Nothing rose: no audited node or frequent n-gram has an after-interval above its "
                             "before-interval.")
    matrix = eff.get("matrix") or {}
    if matrix.get("columns"):
        names = {r["node_id"]: r["name"] for r in rows}
        keep = [i for i, c in enumerate(matrix["columns"]) if any(r["node_id"] == c and r["kind"] in STYLE_KINDS
                                                                  for r in rows)]
        section.tables.append(Table(
            ["edited", *(names.get(matrix["columns"][i], matrix["columns"][i]) for i in keep)],
            [[Cell(" + ".join(matrix["rows"]))] + [Cell(f"{matrix['change'][0][i]:+.2f} ({matrix['direction'][0][i]})",
                                                        "num") for i in keep]],
            "effect matrix: change per 1,000 tokens of each style's own markers (effects.json has every node)"))
    return section


def classifier_shown(metrics: Mapping[str, Any]) -> bool:
    """Whether the style classifier's probability belongs in a table: its held-out accuracy is known and at least
    :data:`CLASSIFIER_MIN_ACCURACY`."""
    accuracy = metrics.get("gen_classifier_accuracy")
    return accuracy is not None and float(accuracy) >= CLASSIFIER_MIN_ACCURACY


def classifier_note(metrics: Mapping[str, Any]) -> str:
    accuracy = metrics.get("gen_classifier_accuracy")
    told = "unknown" if accuracy is None else f"{float(accuracy):.2f}"
    return (f"The style classifier is left out: its held-out accuracy is {told}, under "
            f"{CLASSIFIER_MIN_ACCURACY:.2f}, so its probability says little about the style.")


def without_weak_classifier(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` without the classifier's numbers when :func:`classifier_shown` is false."""
    if classifier_shown(metrics):
        return dict(metrics)
    return {k: v for k, v in metrics.items() if k not in ("gen_style_probability", "gen_classifier_accuracy")}


__all__ = ["CLASSIFIER_MIN_ACCURACY", "classifier_note", "classifier_shown", "effects_section",
           "without_weak_classifier"]
