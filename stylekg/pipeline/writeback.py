"""The write-back stage of ``stylekg run``: run records into the store, the graph view, and the Cypher
queries (with their rows) that reproduce the report's tables."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..editing.hparams import hparams_hash
from ..kg.graph import StyleGraph
from ..kg.schema import RunRecord, TargetMetrics
from ..paths import sha256_text

if TYPE_CHECKING:
    from .runner import Pipeline

SUBCLASS_QUERY = (
    "MATCH (s)-[:SUBCLASS_OF*1..]->(p {id: $node, graph: $graph})\n"
    "MATCH (r:Run {id: $run})-[m:MEASURED]->(s)\n"
    "WHERE m.name IN $metrics\n"
    "RETURN s.name AS style, m.name AS metric, m.value AS value ORDER BY style, metric"
)
SUBCLASS_METRICS = ["held_before", "held_after", "marker_logprob_delta"]


def edit_record(pipe: "Pipeline", summary: dict[str, Any], node_id: str, hparams: Any) -> RunRecord:
    """The edit run with metrics per measured style; its id changes whenever its content does."""
    cfg = pipe.config
    content = sha256_text(json.dumps(summary["styles"], sort_keys=True, default=str))[:8]
    return RunRecord(
        id=f"run:{pipe.run_id}:{content}", kind="edit", method=cfg.method, model=cfg.model, graph=pipe.graph.name,
        hparams_hash=hparams_hash(hparams), created=summary["created"], version=__version__, status="ok",
        params={"style": cfg.style, "mode": cfg.mode, "node": node_id, "propagate": cfg.propagate,
                "installed": bool(summary["install"])},
        targets=[TargetMetrics(s["node_id"], {k: float(v) for k, v in s["metrics"].items()}, role=s["role"])
                 for s in summary["styles"] if s["node_id"] in pipe.graph],
    )


def trace_records(pipe: "Pipeline", summary: dict[str, Any], style_id: str) -> list[RunRecord]:
    """The run's traces as ``trace`` annotation runs on the traced style (ids stable per run)."""
    from ..tracing.result import TraceResult

    records = []
    for index, item in enumerate(summary.get("traces", [])):
        path = pipe.run_dir / item["png"].replace(".png", ".json")
        if not path.exists():
            continue
        result = TraceResult.from_dict(json.loads(path.read_text()))
        rec = result.to_run_record(pipe.graph.name, [style_id])
        records.append(dataclasses.replace(rec, id=f"run:{pipe.run_id}:trace{index}",
                                           params={**rec.params, "label": item["label"]}))
    return records


def view_graph(graph: StyleGraph, record: RunRecord, node_id: str) -> StyleGraph:
    """The part of the graph a reader needs: edited node, measured styles, their parents, edited traits."""
    from ..kg.inheritance import ancestors, neighbourhood, subgraph

    keep = set(neighbourhood(graph, node_id))
    for target in record.targets:
        if target.target_id in graph:
            keep |= {target.target_id, *ancestors(graph, target.target_id)}
    return subgraph(graph, keep, name=graph.name)


def write_back(pipe: "Pipeline", summary: dict[str, Any], node_id: str, hparams: Any) -> dict[str, Any]:
    """Write the edit and trace runs (skipping ids already stored), the graph page and the queries."""
    from ..graphs.pyvis_view import write_html
    from ..kg import queries
    from ..kg.stores import open_store

    record = edit_record(pipe, summary, node_id, hparams)
    records = [record, *trace_records(pipe, summary, pipe.traced_style_id)]
    graph_name = pipe.graph.name
    with open_store(pipe.config.store) as store:
        existing = {r.id for r in store.runs(graph_name)}
        for rec in records:
            if rec.id not in existing:
                store.write_run(rec)
        params = {"node": node_id, "graph": graph_name, "run": record.id, "metrics": SUBCLASS_METRICS}
        cypher = [{"title": "Effect of this run on every subclass", "query": SUBCLASS_QUERY, "params": params,
                   "rows": store.query(SUBCLASS_QUERY, params)}]
        effects = queries.subclass_effects(store, graph_name, node_id)
        cypher.append({"title": f"stylekg query subclass-effects {pipe.graph.node(node_id).name!r}",
                       "query": "(named query: stylekg.kg.queries.subclass_effects)", "params": {"node": node_id},
                       "rows": [dataclasses.asdict(e) if dataclasses.is_dataclass(e) else dict(e) for e in effects]})
    write_html(view_graph(pipe.graph, record, node_id), pipe.run_dir / "graph.html", run=record, metric="efficacy")
    (pipe.run_dir / "run_record.json").write_text(json.dumps(dataclasses.asdict(record), default=str, indent=2))
    return {"run_record": record.id, "trace_records": [r.id for r in records[1:]], "cypher": cypher,
            "graph_html": "graph.html"}
