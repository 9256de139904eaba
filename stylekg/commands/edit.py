"""``stylekg edit``: ROME / MEMIT / AlphaEdit from a CounterFact file or a style graph node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DeviceOpt, JsonOpt, ModelOpt, StoreOpt, console, emit_json

HEADLINE = ("efficacy_score", "paraphrase_score", "neighborhood_score", "alias_score", "prob_new", "prob_true")


def _graph_requests(graph_ref: str, store: str | None, node: str, mode: str, new: str | None, relation: str | None,
                    propagate: str | None):
    """(graph, requests to apply, implicit probes, whether the graph came from a store)."""
    from ..editing import propagation
    from ..errors import EditError
    from ..kg.schema import NodeType
    from ..kg.to_requests import to_edit_requests

    path = Path(graph_ref)
    if path.exists():
        from ..kg.io import load_graph

        graph, from_store = load_graph(path), False
    else:
        from ..kg.stores import open_store

        with open_store(store) as opened:
            graph, from_store = opened.load_graph(graph_ref), True
    requests = to_edit_requests(graph, node, mode, new_target=new, relation_template=relation)
    probes: dict = {}
    if propagate:
        if propagate not in propagation.MODES:
            raise EditError(f"unknown --propagate {propagate!r}", hint="use explicit or implicit")
        if graph.find(node).type is not NodeType.ABSTRACT_STYLE:
            raise EditError(f"--propagate needs an abstract style as --node, {node!r} is not one")
        parents = propagation.parent_requests(requests, graph, node)
        if propagate == "explicit":
            requests = propagation.expand_explicit(graph, parents)
        else:
            requests, probes = parents, propagation.implicit_probes(graph, parents)
    return graph, requests, probes, from_store


def edit_cmd(
    method: Annotated[str, typer.Option("--method", help="rome | memit | alphaedit")] = "memit",
    model: ModelOpt = "smollm2-135m",
    requests: Annotated[Path | None, typer.Option("--requests", "-r", help="CounterFact-style JSONL file.")] = None,
    graph: Annotated[str | None, typer.Option("--graph", help="Graph file, or a graph name in --store.")] = None,
    node: Annotated[str, typer.Option("--node", help="Style, abstract style, trait, marker or edge to edit.")] = "",
    mode: Annotated[str, typer.Option("--mode", help="erase | replace | insert | relation")] = "erase",
    new: Annotated[str | None, typer.Option("--new", help="New object (replace/insert).")] = None,
    relation: Annotated[str | None, typer.Option("--relation-template", help="New prompt template (relation).")] = None,
    propagate: Annotated[str | None, typer.Option("--propagate", help="explicit | implicit (abstract --node).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for summary/cases JSON and the delta file.")] = Path("edit-out"),
    save_model: Annotated[Path | None, typer.Option("--save-model", help="Also save the edited model here.")] = None,
    hparams: Annotated[Path | None, typer.Option("--hparams", help="Hyper-parameter TOML (default configs/<method>/<model>.toml).")] = None,
    stats_samples: Annotated[int | None, typer.Option("--stats-samples", help="Token vectors for the key statistics.")] = None,
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", help="Local text/JSONL files for the key statistics.")] = None,
    store: StoreOpt = None,
    device: DeviceOpt = "cpu",
    json_out: JsonOpt = False,
) -> None:
    """Edit a model and report CounterFact metrics before and after (writes OUT/summary.json, cases.json, edit.safetensors)."""
    from ..editing.common.run import edit_and_measure, method_and_hparams
    from ..editing.requests_io import read_requests
    from ..errors import EditError
    from ..lm import load_model

    if (requests is None) == (graph is None):
        raise EditError("give exactly one of --requests FILE or --graph G --node N")
    m, hp = method_and_hparams(method, model, hparams, stats_samples=stats_samples)
    graph_obj, probes, from_store = None, {}, False
    if requests is not None:
        reqs = read_requests(requests)
    else:
        if not node:
            raise EditError("--graph needs --node", hint="name the style, trait or abstract parent to edit")
        graph_obj, reqs, probes, from_store = _graph_requests(graph, store, node, mode, new, relation, propagate)
    lm = load_model(model, device=device)
    outcome = edit_and_measure(lm, m, reqs, hp, probes=probes, corpus=[str(c) for c in corpus] if corpus else None)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"model": model, **outcome.summary()}
    if graph_obj is not None and propagate:
        from ..editing.hparams import hparams_hash
        from ..editing.propagation import effects_record

        edited = {r.meta.get("subject_id", r.subject): c["metrics"] for r, c in zip(reqs, outcome.after["cases"])}
        subs = {sid: outcome.probes_after[sid]["summary"] for sid in outcome.probes_after}
        record = effects_record(method=method, model=model, graph=graph_obj, parent=node, mode=propagate,
                                edited=edited, subclasses=subs, hparams_hash=hparams_hash(hp))
        summary["run_id"] = record.id
        if from_store:
            from ..kg.stores import open_store

            with open_store(store) as opened:
                opened.write_run(record)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "cases.json").write_text(json.dumps({"before": outcome.before["cases"], "after": outcome.after["cases"]},
                                               indent=2, default=str))
    outcome.result.save(out / "edit.safetensors")
    if save_model is not None:
        lm.model.save_pretrained(save_model)
        lm.tokenizer.save_pretrained(save_model)
    if json_out:
        emit_json(summary)
        return
    table = Table("metric", "before", "after", title=f"{method} on {model}: {len(reqs)} request(s)")
    for key in HEADLINE:
        b, a = summary["before"].get(key), summary["after"].get(key)
        if b is not None or a is not None:
            table.add_row(key, _fmt(b), _fmt(a))
    console.print(table)
    console.print(f"edit took {outcome.seconds['edit']:.1f}s; results in {out}")


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def register(app: typer.Typer) -> None:
    app.command("edit")(edit_cmd)
