"""``stylekg viz GRAPH [--style S [--depth N]] [--run RUN_ID] -o graph.html``: an interactive offline page of a
stored graph, or of one style and its neighbourhood (the whole library is a hairball)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from .common import StoreOpt, console


def viz(
    graph: Annotated[str, typer.Argument(help="Name of a stored graph (see `stylekg kg graphs`).")],
    run: Annotated[str | None, typer.Option("--run", help="Colour nodes by this run's metrics ('latest': newest run).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Which metric sets colour and size.")] = "efficacy",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output HTML file.")] = Path("graph.html"),
    style: Annotated[str | None, typer.Option("--style", "-s", help="Draw only this style (name, alias or id) and "
                                                                   "its neighbourhood.")] = None,
    depth: Annotated[int, typer.Option("--depth", min=0, help="With --style: hops from the style, along edges "
                                                              "of any type and direction.")] = 2,
    store: StoreOpt = None,
) -> None:
    """Write an interactive pyvis page of GRAPH (or of one --style and what lies within --depth hops); with --run,
    colour and size show that run's metrics. The legend names node shapes and edge colours."""
    from ..errors import StoreError
    from ..views.pyvis_view import write_html
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        loaded = opened.load_graph(graph)
        record = None
        if run == "latest":
            runs = opened.runs(graph)
            if not runs:
                raise StoreError(f"graph {graph!r} has no runs yet", hint="drop --run to draw the plain hierarchy")
            record = runs[0]
        elif run:
            record = opened.load_run(run)
            if record.graph != graph:
                raise StoreError(f"run {run!r} belongs to graph {record.graph!r}, not {graph!r}")
    if style:
        from ..kg.inheritance import resolve_style
        from ..kg.subgraphs import subgraph

        focus = resolve_style(loaded, style)
        loaded = subgraph(loaded, loaded.around(focus, depth),
                          name=f"{graph}: {loaded.node(focus).name} ({depth} hop{'s' * (depth != 1)})")
    path = write_html(loaded, out, record, metric)
    console.print(Text(f"wrote {path}"))


def register(app: typer.Typer) -> None:
    app.command("viz")(viz)
