"""``stylekg kg save | load | graphs``: style graphs in a graph store (LadybugDB by default, or Neo4j)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import JsonOpt, StoreOpt, console, emit_json
from .kg import kg_app


def _graph_for(name: str):
    """A graph file (JSON/Turtle/JSON-LD) when ``name`` is an existing path, else a built-in library style."""
    path = Path(name)
    if path.is_file():
        from ..kg.io import load_graph

        return load_graph(path)
    from ..kg.library import library_style

    return library_style(name)


@kg_app.command("save")
def save(
    names: Annotated[list[str] | None, typer.Argument(help="Graph files or library style names.")] = None,
    library: Annotated[bool, typer.Option("--library", help="Save the whole built-in library (graph 'library').")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write graphs into the store (idempotent upsert: saving again changes nothing)."""
    from ..errors import GraphError
    from ..kg.stores import open_store

    if not names and not library:
        raise GraphError("nothing to save", hint="name graph files or library styles, or pass --library")
    graphs = [_graph_for(n) for n in names or []]
    if library:
        from ..kg.library import load_library

        graphs.append(load_library())
    with open_store(store) as opened:
        done = [{"graph": g.name, **opened.save_graph(g)} for g in graphs]
        where = opened.location
    if as_json:
        emit_json({"store": where, "saved": done})
        return
    for row in done:
        console.print(f"saved [bold]{row['graph']}[/] ({row['nodes']} nodes, {row['edges']} edges) to {where}")


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

    with open_store(store) as opened:
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
    console.print(f"[bold]{graph.name}[/]: {len(graph)} nodes ({summary}), {sum(1 for _ in graph.edges())} edges")
    if out is not None:
        console.print(f"wrote {out}")


@kg_app.command("graphs")
def graphs(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the graphs in the store with their sizes and number of runs."""
    from ..kg.stores import open_store

    with open_store(store) as opened:
        rows = opened.list_graphs()
        where = opened.location
    if as_json:
        emit_json(rows)
        return
    table = Table(title=f"graphs in {where}")
    for col in ("name", "nodes", "edges", "runs", "updated"):
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("name", "nodes", "edges", "runs", "updated")))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Commands are attached to the ``kg`` group (registered by :mod:`stylekg.commands.kg`)."""
