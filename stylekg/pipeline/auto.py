"""``stylekg run --auto "a wide subject"``: expand into styles, plan which edges to modify, modify them,
and return (and store) exactly what was modified, with before/after numbers for each.

The plan keeps only the marker edges the model holds (P(marker) > P(neutral) on the edge's own
prompt): erasing what the model does not hold would report an effect that is not there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import StyleKGError
from ..kg.schema import RunRecord, TargetMetrics, slug
from ..paths import sha256_text
from ..requests import EditRequest
from .config import RunConfig
from .measure import per_style, request_scores
from .runner import Pipeline, RunOutcome, _limit_edges, _style_edges, _requests_from, _requests_to, _versions
from .stages import StageCache


def run_auto(config: RunConfig, *, on_event: Callable[[str, str], None] | None = None,
             n_styles: int = 4) -> RunOutcome:
    """Expand ``config.auto`` with the configured LLM provider, then erase the held markers of each style."""
    from ..editing.hparams import hparams_hash
    from ..kg.io import from_json, to_json
    from ..kg.library import load_library
    from ..kg.llm import make_client
    from ..kg.llm.auto import auto
    from ..kg.stores import open_store
    from ..kg.to_requests import to_edit_requests

    run_id = f"auto-{slug(config.auto)[:40]}-{config.key}"
    run_dir = Path(config.runs_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(config.to_toml())
    stages = StageCache(run_dir, on_event)
    pipe = Pipeline(dataclasses.replace(config, style=config.style or config.auto), run_dir=run_dir)

    def expand() -> dict[str, Any]:
        client = make_client(config.provider, config.llm_model or None, device=config.device)
        graph, result = auto(config.auto, client, load_library(), n=n_styles)
        if not result.decompositions:
            raise StyleKGError(f"the LLM gave no usable style for {config.auto!r}", hint=f"failures: {result.failed}")
        with open_store(config.store) as store:
            store.save_graph(graph)
        (run_dir / "graph.json").write_text(to_json(graph))
        return {**result.summary(), "style_ids": [d.style_id for d in result.decompositions], "graph": graph.name}

    expanded = stages.run("expand", [config.to_dict(), n_styles], expand)
    graph = from_json((run_dir / "graph.json").read_text())
    pipe.graph = graph

    def plan() -> dict[str, Any]:
        planned: list[EditRequest] = []
        skipped: dict[str, str] = {}
        for sid in expanded["style_ids"]:
            try:
                candidates = _limit_edges(_style_edges(to_edit_requests(graph, sid, "erase")), config.max_markers)
            except StyleKGError as exc:
                skipped[sid] = str(exc)
                continue
            candidates = [r for r in candidates if r.target_new and r.target_true]
            scores = request_scores(pipe.lm, candidates)
            held = [r for r, s in zip(candidates, scores) if s["holds"]]
            if not held:
                skipped[sid] = f"the model holds none of its {len(candidates)} marker edges"
            planned += held
        return {"requests": _requests_to(planned), "skipped": skipped}

    planned = stages.run("plan", [config.to_dict(), expanded], plan)
    requests = _requests_from([dict(r) for r in planned["requests"]])
    method, hparams = pipe._method()
    before = stages.run("before", [config.to_dict(), planned], lambda: request_scores(pipe.lm, requests))
    if requests:
        stages.run("edit", [config.to_dict(), hparams_hash(hparams), planned],
                   lambda: pipe._stage_edit(method, hparams, requests))
        pipe._reapply("edit.safetensors")
    after = stages.run("after", [config.to_dict(), planned], lambda: request_scores(pipe.lm, requests))
    styles = [pipe._style_row(sid, "edited", m) for sid, m in per_style(requests, before, after).items()]
    modified = [{"style": r.subject, "edge_id": r.edge_id, "prompt": r.text, "marker": r.target_true,
                 "neutral": r.target_new, "before": b, "after": a} for r, b, a in zip(requests, before, after)]
    summary = {
        "run_id": run_id, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(), "versions": _versions(),
        "graph": {"name": graph.name, "nodes": len(graph), "edges": sum(1 for _ in graph.edges()), "source": config.provider},
        "auto": {**expanded, "skipped": planned["skipped"]}, "modified": modified,
        "requests": planned["requests"], "styles": styles,
    }

    def writeback() -> dict[str, Any]:
        content = sha256_text(json.dumps(styles, sort_keys=True, default=str))[:8]
        record = RunRecord(id=f"run:{run_id}:{content}", kind="edit", method=config.method, model=config.model,
                           graph=graph.name, hparams_hash=hparams_hash(hparams), created=summary["created"],
                           version=__version__, params={"auto": config.auto, "mode": "erase"},
                           targets=[TargetMetrics(s["node_id"], {k: float(v) for k, v in s["metrics"].items()})
                                    for s in styles])
        with open_store(config.store) as store:
            if not any(r.id == record.id for r in store.runs(graph.name)):
                store.write_run(record)
        return {"run_record": record.id}

    summary["run_record"] = stages.run("writeback", [summary["styles"], config.store], writeback)["run_record"]
    summary["timings"], summary["resumed"] = stages.timings, stages.resumed
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    from ..graphs.report import write_report

    html, md = write_report(run_dir, summary, graph)
    return RunOutcome(run_id, run_dir, summary, html, md)
