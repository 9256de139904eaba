"""``stylekg run --auto "a wide subject"``: expand into styles, plan which edges to modify, modify them,
and return (and store) exactly what was modified, with before/after numbers for each.

The plan keeps only the marker edges the model holds (P(marker) > P(neutral) on the edge's own
prompt): erasing what the model does not hold would report an effect that is not there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..editing.hparams_files import hparams_file, hparams_hash, load_method
from ..editing.requests_io import from_records, to_records
from ..errors import StyleKGError
from ..kg.graph import StyleGraph
from ..kg.schema import slug
from ..paths import atomic_write_text
from ..requests import EditRequest, Preserved, RequestKind
from ..run_summary import RunSummary
from . import stages
from .config import RunConfig
from .measure import per_style, request_scores
from .preflight import check_run
from .records import edit_record
from .run_lock import RunLock
from .runner import RunOutcome, finish
from .session import ModelSession
from .stage_cache import StageCache


@dataclass
class AutoPlan:
    """The held marker edges of every expanded style, why the others were skipped, and what the edit keeps."""

    requests: list[EditRequest]
    skipped: dict[str, str] = field(default_factory=dict)
    preserved: tuple[Preserved, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"requests": to_records(self.requests), "skipped": self.skipped,
                "preserved": [p.to_json() for p in self.preserved]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AutoPlan":
        return cls(from_records(data["requests"]), dict(data.get("skipped", {})),
                   tuple(Preserved.from_json(p) for p in data.get("preserved", [])))


def expand(config: RunConfig, run_dir: Path, n_styles: int) -> dict[str, Any]:
    """Decompose ``config.auto`` into up to ``n_styles`` styles with the configured LLM; save the graph."""
    from ..kg.jsonform import to_json
    from ..kg.library import load_library
    from ..kg.llm import make_client
    from ..kg.llm.auto import auto

    client = make_client(config.provider, config.llm_model or None, device=config.device)
    graph, result = auto(config.auto, client, load_library(), n=n_styles)
    if not result.decompositions:
        raise StyleKGError(f"the LLM gave no usable style for {config.auto!r}", hint=f"failures: {result.failed}")
    atomic_write_text(run_dir / "graph.json", to_json(graph))
    return {**result.summary(), "style_ids": [d.style_id for d in result.decompositions], "graph": graph.name}


def plan_held(lm: Any, graph: StyleGraph, style_ids: list[str], max_markers: int) -> AutoPlan:
    """Each style's first marker edges (:func:`stylekg.kg.planner.plan`: erase, markers only, ``max_markers``
    edges) that the model holds (marker beats its neutral form on its own prompt); the preserved set of the one
    edit of them all, from the graph, leaves every expanded style out."""
    from ..kg.planner import plan as plan_edit
    from ..kg.preserved import graph_preserved

    plan = AutoPlan([])
    for sid in style_ids:
        try:
            candidates = plan_edit(graph, sid, mode=RequestKind.ERASE, markers_only=True, max_markers=max_markers,
                                   n_unrelated=0, preserved_limit=0).requests
        except StyleKGError as exc:
            plan.skipped[sid] = str(exc)
            continue
        candidates = [r for r in candidates if r.target_new and r.target_true]
        held = [r for r, s in zip(candidates, request_scores(lm, candidates)) if s["holds"]]
        if not held:
            plan.skipped[sid] = f"the model holds none of its {len(candidates)} marker edges"
        plan.requests += held
    plan.preserved = graph_preserved(graph, plan.requests, exclude_styles=style_ids) if plan.requests else ()
    return plan


def run_auto(config: RunConfig, *, on_event: Callable[[str, str], None] | None = None,
             n_styles: int = 4) -> RunOutcome:
    """Expand ``config.auto`` with the configured LLM provider, then erase the held markers of each style."""
    run_id = f"auto-{slug(config.auto)[:40]}-{config.key}"
    run_dir = Path(config.runs_dir) / run_id
    check_run(config)  # model and method are known before anything is written
    with RunLock(run_dir):  # a second process on this run directory stops with the holder's PID
        return _run_auto(config, run_id, run_dir, on_event, n_styles)


def _run_auto(config: RunConfig, run_id: str, run_dir: Path, on_event: Callable[[str, str], None] | None,
              n_styles: int) -> RunOutcome:
    atomic_write_text(run_dir / "config.toml", config.to_toml())
    cache, session = StageCache(run_dir, on_event), ModelSession(config.model, config.device, config.dtype)
    expanded = cache.run("expand", [config.to_dict(), n_styles], lambda: expand(config, run_dir, n_styles),
                         files=[run_dir / "graph.json"])
    graph = stages.load_run_graph(run_dir)
    plan = cache.run("plan", [config.to_dict(), expanded],
                     lambda: plan_held(session.lm, graph, expanded["style_ids"], config.max_markers), AutoPlan)
    requests, key = plan.requests, plan.to_dict()
    method, hparams = load_method(config.method, config.model,
                                  hparams_file(config.hparams) if config.hparams else None)
    before = cache.run("before", [config.to_dict(), key], lambda: request_scores(session.lm, requests))
    if requests:
        cache.run("edit", [config.to_dict(), hparams_hash(hparams), key],
                  lambda: stages.apply_edit(session, method, hparams, requests, run_dir / "edit.safetensors",
                                            plan.preserved),
                  stages.EditInfo, files=[run_dir / "edit.safetensors"])
        session.reapply(run_dir / "edit.safetensors")
    after = cache.run("after", [config.to_dict(), key], lambda: request_scores(session.lm, requests))
    summary = RunSummary(
        run_id=run_id, created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        config=config.to_dict(), versions=stages.versions(),
        graph={"name": graph.name, "nodes": len(graph), "edges": graph.number_of_edges(), "source": config.provider},
        auto={**expanded, "skipped": plan.skipped}, requests=key["requests"],
        styles=[stages.style_row(graph, sid, "edited", m) for sid, m in per_style(requests, before, after).items()],
        modified=[{"style": r.subject, "edge_id": r.edge_id, "prompt": r.text, "marker": r.target_true,
                   "neutral": r.target_new, "before": b, "after": a} for r, b, a in zip(requests, before, after)])
    summary.run_record = cache.run("writeback", [[s.to_dict() for s in summary.styles], config.store],
                                   lambda: _write_record(config, graph, summary, hparams_hash(hparams)))
    return finish(run_dir, summary, cache, graph)


def _write_record(config: RunConfig, graph: StyleGraph, summary: RunSummary, hp_hash: str) -> str:
    from ..kg.stores import open_store

    record = edit_record(run_id=summary.run_id, method=config.method, model=config.model, graph=graph.name,
                         rows=summary.styles, params={"auto": config.auto, "mode": RequestKind.ERASE.value}, hparams_hash=hp_hash,
                         created=summary.created)
    with open_store(config.store) as store:
        store.save_graph(graph)  # the expanded graph goes in with the run's record
        if not any(r.id == record.id for r in store.runs(graph.name)):
            store.write_run(record)
    return record.id

