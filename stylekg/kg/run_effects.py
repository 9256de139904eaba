"""The audit of a stored run, as rows: ``stylekg query effects RUN`` and ``stylekg query substitutions RUN``.

An edit run judged in generated text stores, on a ``MEASURED`` edge to every audited node (style, trait, marker,
neutral form), the ``effect_*`` metrics of :mod:`stylekg.evaluation.node_effects`; n-grams that rose and that no
graph names are kept in the run's ``substitutions`` parameter. These functions read them back through the
store's own run queries (``store.runs`` / ``store.load_run``) and the stored graph.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from .schema import RunRecord
from .stores.base import GraphStore

DIRECTION_METRIC = "effect_direction"
LATEST = "latest"


def _direction(metrics: dict[str, float]) -> str:
    code = metrics[DIRECTION_METRIC]
    if code < 0:
        return "fell"
    if code > 0:
        return "rose"
    return "absent" if not metrics.get("effect_hits_before") and not metrics.get("effect_hits_after") else "unchanged"


def _audited(run: RunRecord) -> bool:
    return run.kind == "edit" and any(DIRECTION_METRIC in t.metrics for t in run.targets)


def resolve_run(store: GraphStore, run: str) -> RunRecord:
    """The stored run ``run``: ``latest`` (the newest audited edit run), a run id, or a run directory's id."""
    if run == LATEST:
        for found in store.runs():
            if _audited(found):
                return found
        raise StoreError(f"no audited run in {store.location}",
                         hint="run `stylekg run STYLE --erase --prompts SET` first (a run with a prompt set)")
    runs = store.runs()
    hits = [r for r in runs if r.id == run] or [r for r in runs if r.id.startswith(f"run:{run}:") and _audited(r)]
    if not hits:
        raise StoreError(f"no run {run!r} in {store.location}", hint="use `latest`, or an id from `stylekg query "
                         "\"MATCH (r:Run) RETURN r.id, r.created\"`")
    if len(hits) > 1:
        raise StoreError(f"{run!r} names {len(hits)} runs: {', '.join(h.id for h in hits[:5])}", hint="pass a full id")
    if not _audited(hits[0]):
        raise StoreError(f"run {hits[0].id!r} has no audit (no effect_direction metrics)",
                         hint="audited runs are edit runs with a prompt set (stylekg run --prompts SET)")
    return hits[0]


def effect_rows(store: GraphStore, run: str) -> tuple[RunRecord, list[dict[str, Any]]]:
    """One row per audited node: before, after (per 1,000 generated tokens), their 95% intervals, hits and the
    direction; styles first, then traits, markers and neutral forms."""
    record = resolve_run(store, run)
    graph = store.load_graph(record.graph)
    order = {"AbstractStyle": 0, "Style": 1, "Trait": 2, "Marker": 3}
    rows = []
    for target in record.targets:
        m = target.metrics
        if DIRECTION_METRIC not in m or target.target_id not in graph:
            continue
        node = graph.node(target.target_id)
        rows.append({
            "node": node.name, "type": node.type.value, "role": target.role,
            "before": m["effect_rate_before"], "before_low": m["effect_rate_low_before"],
            "before_high": m["effect_rate_high_before"], "after": m["effect_rate_after"],
            "after_low": m["effect_rate_low_after"], "after_high": m["effect_rate_high_after"],
            "hits_before": int(m["effect_hits_before"]), "hits_after": int(m["effect_hits_after"]),
            "prompts": int(m.get("effect_n_prompts", 0)), "direction": _direction(m),
            "tf_held_before": m.get("tf_held_before"), "tf_held_after": m.get("tf_held_after"), "id": node.id,
        })
    rows.sort(key=lambda r: (order.get(r["type"], 4), r["role"] != "edited", r["node"].lower()))
    return record, rows


def substitution_rows(store: GraphStore, run: str) -> tuple[RunRecord, list[dict[str, Any]]]:
    """What rose in the run: audited graph nodes whose after-interval lies above their before-interval, and the
    model's frequent n-grams that did (kept on the run), the largest rise first."""
    record, rows = effect_rows(store, run)
    out = [{"phrase": r["node"], "kind": r["type"], "in_graph": True, "before": r["before"], "after": r["after"],
            "hits_before": r["hits_before"], "hits_after": r["hits_after"], "change": r["after"] - r["before"],
            "id": r["id"]} for r in rows if r["direction"] == "rose"]
    for s in record.params.get("substitutions") or []:
        if s.get("kind") == "n-gram":
            out.append({"phrase": s["name"], "kind": "n-gram", "in_graph": False, "before": s["before"]["per_1k"],
                        "after": s["after"]["per_1k"], "hits_before": s["before"]["hits"],
                        "hits_after": s["after"]["hits"], "change": s["change"], "id": ""})
    out.sort(key=lambda r: -r["change"])
    return record, out


def effect_matrix(store: GraphStore, runs: list[str], kinds: tuple[str, ...] = ("AbstractStyle", "Style")) \
        -> list[dict[str, Any]]:
    """The effect matrix across runs: one row per run (what it edited, how it propagated), one column per measured
    node of ``kinds`` (styles by default; add "Trait", "Marker" for every node): the change per 1,000 generated
    tokens and its direction, e.g. ``-5.20 fell``. Run a parent-only erase (``--propagate none``) and an explicit
    one with the same prompt set and pass both ids to see them side by side."""
    out = []
    for run in runs:
        record, rows = effect_rows(store, run)
        row: dict[str, Any] = {"run": record.id, "edited": ", ".join(record.params.get("edited") or
                                                                     [record.params.get("node", "")]),
                               "propagate": record.params.get("propagate", "")}
        for r in rows:
            if r["type"] in kinds:
                row[r["node"]] = f"{r['after'] - r['before']:+.2f} {r['direction']}"
        out.append(row)
    return out


__all__ = ["LATEST", "effect_matrix", "effect_rows", "resolve_run", "substitution_rows"]
