"""``stylekg edit``: ROME / MEMIT / AlphaEdit from a CounterFact file or a style graph node."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..requests import Propagation, RequestKind
from .common import (METHOD_HELP, DeviceOpt, DtypeOpt, JsonOpt, ModelOpt, StoreOpt, check_template, console, emit_json,
                     esc, require_utf8)

HEADLINE = ("efficacy_score", "paraphrase_score", "neighborhood_score", "alias_score", "prob_new", "prob_true")


def edit_cmd(
    method: Annotated[str, typer.Option("--method", help=METHOD_HELP)] = "memit",
    model: ModelOpt = "smollm2-135m",
    requests: Annotated[Path | None, typer.Option("--requests", "-r", help="CounterFact-style JSONL file.")] = None,
    graph: Annotated[str | None, typer.Option("--graph", help="Graph file, or a graph name in --store.")] = None,
    node: Annotated[str, typer.Option("--node", help="Style, abstract style, trait, marker or edge to edit.")] = "",
    mode: Annotated[RequestKind, typer.Option("--mode", help="What the edit does to each edge.")] = RequestKind.ERASE,
    new: Annotated[str | None, typer.Option("--new", help="New object (replace/insert).")] = None,
    relation: Annotated[str | None, typer.Option("--relation-template", help="New prompt template (relation).")] = None,
    propagate: Annotated[Propagation | None, typer.Option(
        "--propagate", help="From an abstract --node to its subclasses (default: none).")] = None,
    inherited: Annotated[bool, typer.Option(
        "--inherited", help="Also edit the markers --node inherits from its abstract parents (a style whose markers "
                            "all come from its parents needs it).")] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for summary/cases JSON and the delta file.")] = Path("edit-out"),
    save_model: Annotated[Path | None, typer.Option("--save-model", help="Also save the edited model here.")] = None,
    hparams: Annotated[Path | None, typer.Option("--hparams", help="Hyper-parameter TOML (default: the shipped stylekg/configs/<method>/<model>.toml).")] = None,
    stats_samples: Annotated[int | None, typer.Option("--stats-samples", help="Token vectors for the key statistics.")] = None,
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", help="Local text/JSONL files for the key statistics.")] = None,
    sequential: Annotated[bool, typer.Option("--sequential", help="Apply the requests in batches, one batch after another on the edited model.")] = False,
    batch: Annotated[int, typer.Option("--batch", help="Requests per batch with --sequential.")] = 1,
    store: StoreOpt = None,
    device: DeviceOpt = "cpu",
    guard: Annotated[bool, typer.Option(
        "--guard/--no-guard", help="Keep what the graph (or, for a requests file, the model's probed facts) says must "
                                   "stay (MEMIT, AlphaEdit); --no-guard: the plain reference method.")] = True,
    dtype: DtypeOpt = "float32",
    json_out: JsonOpt = False,
) -> None:
    """Edit a model and report CounterFact metrics before and after (writes OUT/summary.json, cases.json, edit.safetensors)."""
    from ..editing.context import EditContext
    from ..editing.hparams_files import hparams_hash, load_method
    from ..editing.requests_io import read_requests
    from ..errors import EditError
    from ..lm import load_model
    from ..lm.loading import check_model
    from ..lm.placement import resolve_dtype
    from ..pipeline.edit_job import edit_and_measure, graph_requests, propagation_effects, write_outcome
    from ..pipeline.probed_preserved import choose_preserved

    if (requests is None) == (graph is None):
        raise EditError("give exactly one of --requests FILE or --graph G --node N")
    if relation is not None:
        check_template(relation, "--relation-template")
    m, hp = load_method(method, model, hparams, stats_samples=stats_samples)
    made = None
    if requests is not None:
        require_utf8(requests, "request file")
        reqs, probes = read_requests(requests), {}  # each request's template is checked as it is read
    else:
        if not node:
            raise EditError("--graph needs --node", hint="name the style, trait or abstract parent to edit")
        made = graph_requests(graph, store, node, mode, new, relation, propagate, inherited=inherited)
        reqs, probes = made.requests, made.probes
    check_model(model)  # every input is checked before any weights are read
    resolve_dtype(dtype)
    lm = load_model(model, device=device, dtype=dtype)
    # what the edit must keep: the graph's preserved set, or the model's own answers to probed facts
    choice = choose_preserved(lm, model, m, reqs, guard=guard,
                              graph_preserved=made.plan.preserved if made is not None else None)
    preserved = choice.preserved
    context = EditContext(corpus=[str(c) for c in corpus] if corpus else None, preserved=preserved) \
        if corpus or preserved else None
    if batch < 1 or (batch != 1 and not sequential):
        raise EditError(f"--batch {batch}: give a batch of at least 1, together with --sequential",
                        hint="e.g. --sequential --batch 10")
    outcome = edit_and_measure(lm, m, reqs, hp, probes=probes, context=context,
                               sequential_batch=batch if sequential else None)
    summary = {"model": model, **outcome.summary(), "guard": choice.to_json()}
    if made is not None and made.plan.propagate is not Propagation.NONE:
        from ..pipeline.records import propagation_record

        edited, subclasses = propagation_effects(outcome, reqs)
        record = propagation_record(method=method, model=model, graph=made.graph.name,
                                    parent_id=made.plan.node_id, mode=made.plan.propagate, edited=edited,
                                    subclasses=subclasses, hparams_hash=hparams_hash(hp))
        summary["run_id"] = record.id
        if made.from_store:
            from ..kg.stores import open_store

            with open_store(store) as opened:
                opened.write_run(record)
    write_outcome(outcome, out, summary)
    if save_model is not None:
        lm.model.save_pretrained(save_model)
        lm.tokenizer.save_pretrained(save_model)
    if json_out:
        emit_json(summary)
        return
    table = Table("metric", "before", "after", title=f"{esc(method)} on {esc(model)}: {len(reqs)} request(s)")
    for key in HEADLINE:
        b, a = summary["before"].get(key), summary["after"].get(key)
        if b is not None or a is not None:
            table.add_row(key, _fmt(b), _fmt(a))
    console.print(table)
    console.print(f"guard: {esc(choice.note)}", highlight=False)
    console.print(f"edit took {outcome.seconds['edit']:.1f}s; results in {esc(out)}", highlight=False)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def register(app: typer.Typer) -> None:
    app.command("edit")(edit_cmd)
