"""Write-back: a run's records into the store, the graph view, and the Cypher (with its rows) behind the report.

It takes what it writes (the config, the graph, the run directory and the run's summary), never the pipeline.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kg.graph import StyleGraph
from ..kg.schema import RunRecord
from ..paths import atomic_write_text
from ..run_summary import CypherAnswer, Record, RunSummary
from .config import RunConfig
from .records import edit_record, effect_targets, trace_record


# the subclass query of a run judged in generated text: generated marker rates next to the teacher-forced share held
SUBSTITUTIONS_KEPT = 30  # the largest rises stored on the Run node (effects.json in the run directory has all)
GENERATED_METRICS = ("gen_marker_rate_before", "gen_marker_rate_after", "held_before", "held_after")


@dataclass
class WriteBack(Record):
    """What write-back stored and wrote: record ids, the Cypher answers and the graph page."""

    run_record: str
    trace_records: list[str] = field(default_factory=list)
    cypher: list[CypherAnswer] = field(default_factory=list)
    graph_html: str = "graph.html"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WriteBack":
        return cls(data["run_record"], list(data.get("trace_records", [])),
                   [CypherAnswer.from_dict(q) for q in data.get("cypher", [])], data.get("graph_html", "graph.html"))


def run_edit_record(config: RunConfig, graph: StyleGraph, summary: RunSummary, node_id: str,
                    hparams_hash: str) -> RunRecord:
    """The run's edit record: metrics per measured style (its id changes whenever they do)."""
    params = {"style": config.style, "mode": config.mode, "node": node_id, "propagate": config.propagate,
              "installed": bool(summary.install)}
    if summary.effects:  # what rose outside the graph lives on the run itself (no node to point at)
        params["prompts"] = config.prompts
        params["edited"] = summary.effects.get("edited", [])
        params["substitutions"] = [
            {k: s[k] for k in ("node_id", "name", "kind", "family", "before", "after", "direction", "change")}
            for s in summary.effects.get("substitutions", [])[:SUBSTITUTIONS_KEPT]]
    return edit_record(run_id=summary.run_id, method=config.method, model=config.model, graph=graph.name,
                       rows=summary.styles, params=params, hparams_hash=hparams_hash, created=summary.created,
                       known=graph, extra_targets=effect_targets(summary.effects, graph))


def run_trace_records(run_dir: Path, graph: StyleGraph, summary: RunSummary, style_id: str) -> list[RunRecord]:
    """The run's traces as ``trace`` annotation runs on the traced style (ids stable per run)."""
    from ..tracing.result import TraceResult

    records = []
    for index, item in enumerate(summary.traces):
        path = run_dir / (item.png or "").replace(".png", ".json")
        if item.png and path.exists():
            result = TraceResult.from_dict(json.loads(path.read_text()))
            records.append(trace_record(result, graph=graph.name, target_ids=[style_id], label=item.label,
                                        run_id=f"run:{summary.run_id}:trace{index}"))
    return records


def view_graph(graph: StyleGraph, record: RunRecord, node_id: str) -> StyleGraph:
    """The part of the graph a reader needs: edited node, measured styles, their parents, edited traits."""
    from ..kg.inheritance import ancestors
    from ..kg.subgraphs import neighbourhood, subgraph

    keep = set(neighbourhood(graph, node_id))
    for target in record.targets:
        if target.target_id in graph:
            keep |= {target.target_id, *ancestors(graph, target.target_id)}
    return subgraph(graph, keep, name=graph.name)


def write_back(config: RunConfig, graph: StyleGraph, run_dir: Path, summary: RunSummary, node_id: str,
               style_id: str, hparams_hash: str) -> WriteBack:
    """Store the edit and trace runs (skipping ids already stored), answer the report's queries, draw the graph."""
    from ..kg import queries
    from ..kg.stores import open_store
    from ..views.pyvis_view import DIRECTION_METRIC, write_html

    record = run_edit_record(config, graph, summary, node_id, hparams_hash)
    records = [record, *run_trace_records(run_dir, graph, summary, style_id)]
    with open_store(config.store) as store:
        store.save_graph(graph)  # the run's graph goes in with its records (a merge: nothing stored is deleted)
        existing = {r.id for r in store.runs(graph.name)}
        for rec in records:
            if rec.id not in existing:
                store.write_run(rec)
        metrics = GENERATED_METRICS if any("gen_marker_rate_before" in r.metrics for r in summary.styles) else None
        query, params = (store.cypher.subclass_run_metrics(node_id, graph.name, record.id, metrics) if metrics
                         else store.cypher.subclass_run_metrics(node_id, graph.name, record.id))
        cypher = [CypherAnswer("Effect of this run on every subclass", query, params, store.query(query, params))]
        effects = queries.subclass_effects(store, graph.name, node_id)
        cypher.append(CypherAnswer(f"stylekg query subclass-effects {graph.node(node_id).name!r}",
                                   "(named query: stylekg.kg.queries.subclass_effects)", {"node": node_id},
                                   [dataclasses.asdict(e) if dataclasses.is_dataclass(e) else dict(e) for e in effects]))
    generated = any("gen_marker_rate_reduction" in r.metrics for r in summary.styles)
    metric = DIRECTION_METRIC if summary.effects else "gen_marker_rate_reduction" if generated else "efficacy"
    write_html(view_graph(graph, record, node_id), run_dir / "graph.html", run=record, metric=metric)
    if summary.effects:
        atomic_write_text(run_dir / "effects.json", json.dumps({"run_record": record.id, **summary.effects}, indent=1))
    atomic_write_text(run_dir / "run_record.json", json.dumps(dataclasses.asdict(record), default=str, indent=2))
    return WriteBack(record.id, [r.id for r in records[1:]], cypher)
