"""``stylekg kg ...``: the built-in library, showing, decomposing, auto-expanding, export and import.

``kg_app`` is module-level so other command modules (e.g. graph stores) can add commands to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from .common import JsonOpt, console, emit_json

kg_app = typer.Typer(help="Style graphs: library, show, decompose, auto, export, import.", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="tree | json | turtle | jsonld | graphml")]
ProviderOpt = Annotated[str, typer.Option("--provider", "-p", help="openai | local | library")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="LLM model (openai: served model name; local: registry name).")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the graph here (.json, .ttl, .jsonld, .graphml).")]
GraphOpt = Annotated[Path | None, typer.Option("--graph", "-g", help="A graph file to use instead of the built-in library.")]
RetriesOpt = Annotated[int, typer.Option("--retries", help="Re-asks after invalid LLM output.")]


def _base(graph_file: Path | None):
    from ..kg.io import load_graph
    from ..kg.library import load_library

    return load_graph(graph_file) if graph_file else load_library()


@kg_app.command("library")
def library_cmd(json_out: JsonOpt = False) -> None:
    """List the built-in styles with their abstract parents."""
    from ..kg.inheritance import hierarchy
    from ..kg.library import load_library
    from ..kg.schema import EdgeType, NodeType

    graph = load_library()
    rows = []
    for node in sorted([*graph.nodes(NodeType.STYLE), *graph.nodes(NodeType.NEUTRAL)], key=lambda n: n.name):
        parents = [graph.node(e.target).name for e in graph.out_edges(node.id, EdgeType.SUBCLASS_OF)]
        rows.append({"name": node.name, "id": node.id, "kind": node.properties.get("kind", ""),
                     "parents": parents, "markers": len(hierarchy(graph).effective_markers(node.id))})
    if json_out:
        emit_json({"styles": rows, "stats": graph.stats()})
        return
    table = Table("style", "kind", "abstract parents", "markers (incl. inherited)")
    for r in rows:
        table.add_row(r["name"], r["kind"], ", ".join(r["parents"]), str(r["markers"]))
    console.print(table)
    stats = graph.stats()
    console.print(f"[dim]{stats['nodes']} nodes, {stats['edges']} edges[/]")


def _tree(graph, node_id: str) -> Tree:
    from ..kg.inheritance import hierarchy
    from ..kg.schema import EdgeType

    h = hierarchy(graph)
    node = graph.node(node_id)
    root = Tree(f"[bold]{node.name}[/] [dim]{node.type.value}[/]")
    parents = [graph.node(a).name for a in sorted(h.ancestors(node_id), key=lambda a: (h.distances(node_id)[a], a))]
    if parents:
        root.add("[cyan]is a[/] " + " → ".join(parents))
    aliases = graph.aliases_of(node_id)
    if aliases:
        root.add("[cyan]aliases[/] " + ", ".join(aliases))
    for trait in h.effective_traits(node_id):
        t = graph.node(trait.id)
        via = "" if trait.distance == 0 else f" [dim](from {graph.node(trait.via).name})[/]"
        branch = root.add(f"[green]trait[/] {t.name}{via}")
        for e in graph.out_edges(t.id, EdgeType.EXPRESSED_BY):
            m = graph.node(e.target)
            neutral = [graph.node(n.target).name for n in graph.out_edges(m.id, EdgeType.NEUTRAL_FORM)]
            arrow = f" [dim]→ {neutral[0]}[/]" if neutral else ""
            branch.add(f"[yellow]{m.name!r}[/]{arrow}")
    for e in graph.out_edges(node_id, EdgeType.FACT):
        root.add(f"[magenta]fact[/] {e.template.replace('{}', node.name)} [bold]{graph.node(e.target).name}[/]")
    return root


def _emit_graph(graph, fmt: str, focus: str | None = None) -> None:
    from ..errors import GraphError
    from ..kg.io import dumps, save_graph

    if fmt == "tree":
        console.print(_tree(graph, focus or next(iter(graph.nx.nodes))))
    elif fmt == "graphml":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = save_graph(graph, Path(tmp) / "graph.graphml")
            typer.echo(path.read_text(encoding="utf-8"), nl=False)
    elif fmt in ("json", "turtle", "jsonld"):
        typer.echo(dumps(graph, fmt), nl=False)
    else:
        raise GraphError(f"unknown format {fmt!r}", hint="use tree, json, turtle, jsonld or graphml")


@kg_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Style name, alias or id (e.g. 'Yoda', 'Yodda').")],
    fmt: FormatOpt = "tree",
    graph_file: GraphOpt = None,
) -> None:
    """Print one style with its parents, traits, markers and facts."""
    from ..kg.inheritance import resolve_style
    from ..kg.subgraphs import neighbourhood, subgraph
    from ..kg.library import library_style

    if graph_file is None:
        graph = library_style(name)
    else:
        full = _base(graph_file)
        graph = subgraph(full, neighbourhood(full, resolve_style(full, name)))
    from ..kg.inheritance import resolve_style as _resolve

    _emit_graph(graph, fmt, _resolve(graph, name))


@kg_app.command("decompose")
def decompose_cmd(
    subject: Annotated[str, typer.Argument(help="Who or what to decompose, e.g. 'Carl Sagan'.")],
    provider: ProviderOpt = "openai",
    model: ModelOpt = None,
    out: OutOpt = None,
    graph_file: GraphOpt = None,
    retries: RetriesOpt = 2,
    fmt: FormatOpt = "tree",
    json_out: JsonOpt = False,
) -> None:
    """Ask an LLM to explain a style as a graph; link it to existing abstract parents."""
    from ..kg.subgraphs import neighbourhood, subgraph
    from ..kg.io import save_graph
    from ..kg.llm import decompose, make_client

    client = make_client(provider, model, max_retries=retries)
    graph, result = decompose(subject, client, _base(graph_file))
    piece = subgraph(graph, neighbourhood(graph, result.style_id), name=subject)
    if out:
        save_graph(piece, out)
    if json_out:
        emit_json({**result.summary(), "out": str(out) if out else None})
        return
    _emit_graph(piece, fmt, result.style_id)
    linked = ", ".join(result.linked_parents) or "none"
    console.print(f"[green]added[/] {len(result.added_nodes)} nodes, {len(result.added_edges)} edges; "
                  f"linked to existing parents: {linked}; provenance {result.provenance.detail}"
                  + (f"; written to {out}" if out else ""))


@kg_app.command("auto")
def auto_cmd(
    subject: Annotated[str, typer.Argument(help="A wide subject, e.g. 'American talk-show hosts'.")],
    provider: ProviderOpt = "openai",
    model: ModelOpt = None,
    n: Annotated[int, typer.Option("--n", "-n", help="At most this many styles.")] = 4,
    out: OutOpt = None,
    graph_file: GraphOpt = None,
    retries: RetriesOpt = 2,
    json_out: JsonOpt = False,
) -> None:
    """Expand a wide subject into styles, decompose each, merge them into one graph."""
    from ..kg.io import save_graph
    from ..kg.llm import auto, make_client

    client = make_client(provider, model, max_retries=retries)
    base = _base(graph_file)
    graph, result = auto(subject, client, base, n=n, progress=not json_out)
    if out:
        save_graph(graph, out)
    if json_out:
        emit_json({**result.summary(), "out": str(out) if out else None})
        return
    table = Table("style", "new nodes", "new edges", "linked parents")
    for d in result.decompositions:
        table.add_row(d.subject, str(len(d.added_nodes)), str(len(d.added_edges)), ", ".join(d.linked_parents))
    for name, err in result.failed.items():
        table.add_row(name, "-", "-", f"[red]failed:[/] {err}")
    console.print(table)
    console.print(f"added {len(result.added_nodes)} nodes and {len(result.added_edges)} edges"
                  + (f"; written to {out}" if out else ""))


@kg_app.command("export")
def export_cmd(
    dest: Annotated[Path, typer.Argument(help="Output file; the suffix picks the format (.json .ttl .jsonld .graphml).")],
    name: Annotated[str | None, typer.Option("--style", "-s", help="Only this style (default: the whole graph).")] = None,
    graph_file: GraphOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Override the format.")] = None,
) -> None:
    """Write the library (or a graph file, or one style) as JSON, Turtle, JSON-LD or GraphML."""
    from ..kg.inheritance import resolve_style
    from ..kg.subgraphs import neighbourhood, subgraph
    from ..kg.io import save_graph

    graph = _base(graph_file)
    if name:
        graph = subgraph(graph, neighbourhood(graph, resolve_style(graph, name)), name=name)
    path = save_graph(graph, dest, fmt)
    console.print(f"[green]wrote[/] {path} ({len(graph)} nodes, {graph.number_of_edges()} edges)")


@kg_app.command("import")
def import_cmd(
    src: Annotated[Path, typer.Argument(help="A graph file (.json, .ttl, .jsonld).")],
    into: Annotated[Path | None, typer.Option("--into", help="Merge into this JSON graph file (atomically).")] = None,
    out: OutOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Override the format.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Read and validate a graph file; optionally merge it into another graph file or convert it."""
    from ..kg.io import import_into, load_graph, save_graph

    graph = load_graph(src, fmt)
    added: tuple[list[str], list[str]] = ([n.id for n in graph.nodes()], [e.id for e in graph.edges()])
    if into is not None:
        target = load_graph(into) if into.exists() else type(graph)(into.stem)
        added = import_into(target, graph)
        save_graph(target, into)
        graph = target
    if out:
        save_graph(graph, out)
    summary = {"file": str(src), **graph.stats(), "added_nodes": len(added[0]), "added_edges": len(added[1])}
    if json_out:
        emit_json(summary)
    else:
        console.print(f"[green]valid[/] {src}: {len(graph)} nodes, {graph.number_of_edges()} edges"
                      + (f"; merged into {into} (+{len(added[0])} nodes, +{len(added[1])} edges)" if into else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(kg_app, name="kg")
