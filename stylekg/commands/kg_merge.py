"""``stylekg kg import`` and ``stylekg kg add``: validate a graph file and merge it, or styles, nodes or one edge,
into a graph file or a stored graph (entities matched by type and name; conflicts refused and listed; every change
reported; ``--dry-run`` writes nothing). Attached to the ``kg`` group of :mod:`stylekg.commands.kg`.

Everything from a graph file is data: printed as plain text or through :func:`rich.markup.escape`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, StoreOpt, console, emit_json, err_console, esc, printable
from .kg import ConflictOpt, DryRunOpt, OutOpt, kg_app


def _print_plan(plan, dry_run: bool) -> None:
    """The merge diff (dry run), or every changed and kept field (a real merge); plain text, never markup."""
    if dry_run:
        lines = plan.diff() or ["(nothing to add or change)"]
    else:
        lines = [c.line() for c in plan.changes] + [f"= {a} is {b} here (same type and name)"
                                                    for a, b in sorted(plan.matched.items())]
    for line in lines:
        typer.echo(printable(line))


def _untemplated(graph, only: set[str] | None = None) -> list[str]:
    """Names of the traits (of ids ``only``) without a prompt template (their requests fall back to "{} often says")."""
    from ..kg.schema import NodeType

    return sorted(t.name for t in graph.nodes(NodeType.TRAIT)
                  if (only is None or t.id in only) and "{}" not in str(t.properties.get("template") or ""))


def _note_untemplated(names: list[str]) -> None:
    if names:
        err_console.print(esc(f"note: {len(names)} trait(s) have no template, so their prompts fall back to "
                                 f"'{{}} often says' (docs/style-graphs.md): {', '.join(names)}"),
                          highlight=False, soft_wrap=True)


def _plan_summary(plan) -> dict:
    return {"added_nodes": len(plan.added_nodes), "added_edges": len(plan.added_edges),
            "changed": len(plan.applied_changes), **{k: v for k, v in plan.summary().items()
                                                      if k not in ("added_nodes", "added_edges")}}


@kg_app.command("import")
def import_cmd(
    src: Annotated[Path, typer.Argument(help="A graph file (.json, .ttl, .jsonld).")],
    into: Annotated[Path | None, typer.Option("--into", help="Merge into this JSON graph file (atomically).")] = None,
    out: OutOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Override the format.")] = None,
    on_conflict: ConflictOpt = "refuse",
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Read and validate a graph file; optionally merge it into another graph file (entities matched by type and
    name, conflicts refused and listed, every change reported) or convert it."""
    from ..kg.io import import_into, load_graph, save_graph

    graph = load_graph(src, fmt)
    summary = {"file": str(src), **graph.stats(), "into": str(into) if into else None, "dry_run": dry_run,
               "traits_without_template": _untemplated(graph)}
    if not json_out:
        _note_untemplated(summary["traits_without_template"])
    plan = None
    if into is not None:
        target = load_graph(into) if into.exists() else type(graph)(into.stem)
        plan = import_into(target, graph, on_conflict=on_conflict, dry_run=True)
        summary.update(_plan_summary(plan))
        if dry_run or plan.conflicts:
            if json_out:
                emit_json(summary)
            else:
                _print_plan(plan, dry_run=True)
            if plan.conflicts:
                raise plan.error()
            return
        import_into(target, graph, on_conflict=on_conflict)
        save_graph(target, into)
        summary["target"] = {"nodes": len(target), "edges": target.number_of_edges()}
        graph = target
    if out and not dry_run:
        save_graph(graph, out)
    if json_out:
        emit_json(summary)
        return
    console.print(f"[green]valid[/] {esc(str(src))}: {summary['nodes']} nodes, {summary['edges']} edges",
                  highlight=False, soft_wrap=True)
    if plan is not None:
        console.print(f"merged into {esc(str(into))}: +{len(plan.added_nodes)} nodes, +{len(plan.added_edges)} "
                      f"edges, {len(plan.applied_changes)} changed fields; it now holds {summary['target']['nodes']} "
                      f"nodes, {summary['target']['edges']} edges", highlight=False, soft_wrap=True)
        _print_plan(plan, dry_run=False)


def _merge_into(work, other, on_conflict: str, json_out: bool):
    """Merge ``other`` into ``work``; on a conflict print the whole diff (unless JSON) and raise listing them."""
    from ..kg.merge import apply_merge

    plan = work.merge(other, on_conflict=on_conflict, dry_run=True)
    if plan.conflicts:
        if not json_out:
            _print_plan(plan, dry_run=True)
        raise plan.error()
    apply_merge(work, plan)
    return plan


def _target(into: str, store: str | None):
    """(the graph ``--into`` names, a function saving it back): a graph file, else a graph in the store."""
    from ..errors import GraphError
    from ..kg.io import SUFFIX_FORMATS, load_graph, save_graph

    path = Path(into)
    if path.is_file():
        return load_graph(path), lambda g: save_graph(g, path)
    if path.suffix.lower() in SUFFIX_FORMATS or path.parent != Path("."):
        raise GraphError(f"no graph file at {path}",
                         hint="`stylekg kg export FILE` writes the library to start from, or name a stored graph")
    from ..kg.stores import open_store

    with open_store(store) as opened:
        graph = opened.load_graph(into)

    def save(g) -> None:
        with open_store(store) as again:
            again.save_graph(g)  # the stored graph plus the additions: nothing of it is missing

    return graph, save


@kg_app.command("add")
def add_cmd(
    patches: Annotated[list[Path] | None, typer.Argument(
        help="Patch files: a stylekg graph file whose edges may name the target's nodes by id or name, or style "
             "records (the library's shape); see docs/style-graphs.md.")] = None,
    into: Annotated[str, typer.Option("--into", help="The graph to add to: a graph file, or the name of a stored "
                                                     "graph (see --store).")] = "",
    edge: Annotated[tuple[str, str, str] | None, typer.Option(
        "--edge", metavar="TYPE SOURCE TARGET",
        help="One edge, its ends by id or name, e.g. --edge SUBCLASS_OF 'Captain Jack Sparrow' Exaggeration.")] = None,
    relation: Annotated[str, typer.Option("--relation", help="FACT --edge: the relation name.")] = "",
    template: Annotated[str, typer.Option("--template", help="FACT --edge: the prompt template with {}.")] = "",
    on_conflict: ConflictOpt = "refuse",
    dry_run: DryRunOpt = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add styles, nodes or one edge to an existing graph, validated against it (no stub nodes needed)."""
    from ..errors import GraphError
    from ..kg.graph import EDGE_RULES, StyleGraph
    from ..kg.io import read_patch
    from ..kg.schema import Edge, EdgeType, Provenance

    if not into:
        raise GraphError("kg add needs --into GRAPH", hint="a graph file, or the name of a stored graph")
    if not patches and edge is None:
        raise GraphError("nothing to add", hint="name patch files, or pass --edge TYPE SOURCE TARGET")
    target, save = _target(into, store)
    work = target.copy()
    plans, untemplated = [], []
    for patch_file in patches or []:
        patch = read_patch(patch_file, work)
        plans.append(_merge_into(work, patch, on_conflict, json_out))
        untemplated += [t for t in _untemplated(patch, set(plans[-1].added_nodes)) if t not in untemplated]
    if edge is not None:
        kind, source, dest = edge
        try:
            etype = EdgeType(kind.strip().upper())
        except ValueError:
            raise GraphError(f"unknown edge type {kind!r}",
                             hint=f"use one of {', '.join(t.value for t in EdgeType)}") from None
        ends = [work.resolve(end, types, what="--edge end") for end, types in zip((source, dest), EDGE_RULES[etype])]
        one = StyleGraph("--edge")
        one.add_all([work.node(i) for i in ends], [Edge(etype, ends[0], ends[1], relation=relation, template=template,
                                                         provenance=Provenance("user", "kg add"))])
        plans.append(_merge_into(work, one, on_conflict, json_out))
    added_nodes = [i for p in plans for i in p.added_nodes]
    added_edges = [i for p in plans for i in p.added_edges]
    changes = [c for p in plans for c in p.changes]
    summary = {"into": into, "dry_run": dry_run, "added_nodes": added_nodes, "added_edges": added_edges,
               "changes": [{"target": c.target, "field": c.field, "old": c.old, "new": c.new, "applied": c.applied}
                           for c in changes],
               "matched": {k: v for p in plans for k, v in p.matched.items()},
               "nodes": len(work), "edges": work.number_of_edges(), "traits_without_template": untemplated}
    if not json_out:
        _note_untemplated(untemplated)
    if not dry_run:
        save(work)
    if json_out:
        emit_json(summary)
        return
    for plan in plans:
        _print_plan(plan, dry_run=dry_run)
    verb = "would add" if dry_run else "added"
    console.print(f"{verb} {len(added_nodes)} nodes and {len(added_edges)} edges to {esc(into)}, "
                  f"{sum(c.applied for c in changes)} changed fields"
                  + ("" if dry_run else f"; it now holds {len(work)} nodes, {work.number_of_edges()} edges"),
                  highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Commands are attached to the ``kg`` group (registered by :mod:`stylekg.commands.kg`)."""
