"""``stylekg kg save | load | graphs``: style graphs in a graph store (LadybugDB by default, or Neo4j).

Names of graphs, nodes and files are data: everything printed goes through :func:`rich.markup.escape` or
:class:`rich.text.Text`, so a graph called ``rich[/x]name`` prints as itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, StoreOpt, console, emit_json, esc
from .kg import kg_app
from .query import show_rows

LIBRARY_GRAPH = "library"
SHOWN = 8  # deleted ids listed by name before "… and N more"


def _graph_for(name: str):
    """A graph file (JSON/Turtle/JSON-LD) when ``name`` is an existing path, else a built-in library style."""
    path = Path(name)
    if path.is_file():
        from ..kg.io import load_graph

        return load_graph(path)
    from ..kg.library import library_style

    return library_style(name)


def _sources(names: list[str], library: bool, target: str | None):
    """(target graph name, the graph to save into it) from the command line; one clear error when the target is
    not named (a file's own name never picks the stored graph it overwrites)."""
    from ..errors import GraphError

    if not names and not library:
        raise GraphError("nothing to save", hint="name graph files or library styles with --graph NAME, or pass --library")
    if library and names:
        raise GraphError("save the library on its own", hint="run `kg save --library`, then `kg save FILE --graph NAME`")
    if library:
        from ..kg.library import load_library

        if target not in (None, LIBRARY_GRAPH):
            raise GraphError(f"--library is saved as graph {LIBRARY_GRAPH!r}", hint="drop --graph")
        return LIBRARY_GRAPH, load_library()
    graphs = [_graph_for(n) for n in names]
    if target is None:
        own = graphs[0].name
        raise GraphError(
            "name the stored graph to write into with --graph",
            hint=f"e.g. --graph {own!r} (the name inside the file); an existing graph is merged into, never "
                 "replaced, unless you add --replace",
        )
    merged = graphs[0].copy(target)
    for extra in graphs[1:]:
        merged.merge(extra)
    return target, merged


def _deleted(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN])
    return shown + (f" … and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


@kg_app.command("save")
def save(
    names: Annotated[list[str] | None, typer.Argument(help="Graph files or library style names.")] = None,
    graph: Annotated[str | None, typer.Option("--graph", "-g", help="The stored graph to write into (required for "
                                                                    "files and styles).")] = None,
    library: Annotated[bool, typer.Option("--library", help="Save the whole built-in library (graph 'library').")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Make the stored graph exactly this one: delete what it "
                                                            "lacks (listed), with the runs' links to it.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what the save would do; write nothing.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write graphs into the store: an upsert that creates and updates but never deletes (styles decomposed by an
    LLM and everything a run measured stay), unless --replace."""
    from ..kg.stores import open_store

    target, source = _sources(names or [], library, graph)
    with open_store(store) as opened:
        report = opened.save_graph(source, name=target, replace=replace, dry_run=dry_run)
        where = opened.location
    if as_json:
        emit_json({"store": where, "saved": [report.as_dict()]})
        return
    verb = "would save" if dry_run else "saved"
    console.print(
        f"{verb} graph [bold]{esc(report.graph)}[/] in {esc(where)}: {report.created_nodes} new and "
        f"{report.updated_nodes} changed nodes, {report.created_edges} new and {report.updated_edges} changed edges; "
        f"it {'would hold' if dry_run else 'holds'} {report.nodes} nodes and {report.edges} edges",
        highlight=False,
    )
    if replace:
        gone = "would delete" if dry_run else "deleted"
        console.print(f"--replace {gone} {len(report.deleted_nodes)} nodes"
                      + (f" ({esc(_deleted(report.deleted_nodes))})" if report.deleted_nodes else "")
                      + f", {len(report.deleted_edges)} edges and {report.lost_run_links} links of earlier runs",
                      highlight=False)


@kg_app.command("load")
def load(
    name: Annotated[str, typer.Argument(help="Name of a stored graph (see `stylekg kg graphs`).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write it to a file (.json, .ttl, .jsonld).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read a graph back from the store (lossless), print a summary or write it to a file."""
    from ..kg.io import save_graph
    from ..kg.jsonform import to_dict
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        graph = opened.load_graph(name)
    if out is not None:
        save_graph(graph, out)
    if as_json:
        emit_json(to_dict(graph))
        return
    counts: dict[str, int] = {}
    for node in graph.nodes():
        counts[node.type.value] = counts.get(node.type.value, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    console.print(f"[bold]{esc(graph.name)}[/]: {len(graph)} nodes ({summary}), "
                  f"{sum(1 for _ in graph.edges())} edges", highlight=False)
    if out is not None:
        console.print(f"wrote {esc(str(out))}", highlight=False)


@kg_app.command("graphs")
def graphs(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the graphs in the store with their sizes (counted now) and number of runs."""
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        rows = opened.list_graphs()
        where = opened.location
    if as_json:
        emit_json(rows)
        return
    show_rows(rows, title=f"graphs in {where}", columns=["name", "nodes", "edges", "runs", "updated"])


def register(app: typer.Typer) -> None:
    """Commands are attached to the ``kg`` group (registered by :mod:`stylekg.commands.kg`)."""
