"""``stylekg query``: Cypher on the graph store (read-only unless ``--write``) and the named queries.

Tables go to a terminal; when stdout is a pipe or a file the rows are printed as TSV (one header line), so
``stylekg query … | cut -f2`` works and no column is ever cut short. ``--json`` gives JSON either way.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import click
import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from .common import JsonOpt, StoreOpt, console, emit_json, printable

CYPHER_COMMAND = "run"  # the command a bare statement runs (`stylekg query "MATCH …"` = `stylekg query run "MATCH …"`)


class _CypherFirst(TyperGroup):
    """``stylekg query "MATCH ..."`` runs the ``run`` command; a known name runs that named query.

    ``stylekg query --help`` shows the statement's options (``--param``, ``--write``, ``--store``, ``--json``) next
    to the named queries, since a bare statement is what most people type."""

    _helping = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [CYPHER_COMMAND, *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._helping = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._helping = False

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        command = self.commands.get(CYPHER_COMMAND)
        if not self._helping or command is None:
            return params
        own = {p.name for p in params}
        return [p for p in command.get_params(ctx) if p.name not in own] + params

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ['"CYPHER" [OPTIONS] | NAMED-QUERY [ARGS]...']


query_app = typer.Typer(
    cls=_CypherFirst,
    no_args_is_help=True,
    help='Run Cypher on the graph store (read-only unless --write), e.g. '
         '`stylekg query "MATCH (s:Style {graph: \'library\'}) RETURN s.name"`, or a named query below.',
)
GraphOpt = Annotated[str, typer.Option("--graph", "-g", help="Stored graph name (see `stylekg kg graphs`).")]


def _param(text: str) -> tuple[str, Any]:
    """``k=v``; ``v`` is parsed as JSON when it is valid JSON (numbers, lists, true), else kept as a string."""
    from ..errors import StoreError

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise StoreError(f"bad --param {text!r}", hint="write --param name=value")
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw


def _cell(value: Any) -> str:
    """A value as one table or TSV cell; control characters shown as escapes (:func:`printable`)."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return printable(json.dumps(value, default=str, ensure_ascii=False))
    if isinstance(value, float):
        return f"{value:.6g}"
    return printable(value)


def show_rows(rows: list[dict[str, Any]], as_json: bool = False, title: str = "",
              columns: list[str] | None = None, formats: dict[str, str] | None = None) -> None:
    """Rows as JSON, as TSV when stdout is not a terminal, else as a table (every value printed as text, never
    as rich markup). ``formats``: a format spec per column for the table (TSV keeps 6 significant digits)."""
    if as_json:
        emit_json(rows)
        return
    cols = columns or list(dict.fromkeys(k for row in rows for k in row))
    if not console.is_terminal:
        writer = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
        if cols:
            writer.writerow([printable(c) for c in cols])
        writer.writerows([_cell(row.get(c)) for c in cols] for row in rows)
        sys.stdout.flush()
        return
    if not rows:
        console.print(Text(printable(f"{title}: (no rows)" if title else "(no rows)")))
        return
    table = Table(title=Text(printable(title)) if title else None)
    for col in cols:
        table.add_column(Text(printable(col)), overflow="fold")
    formats = formats or {}
    for row in rows:
        table.add_row(*(Text(format(row[c], formats[c]) if c in formats and row.get(c) is not None
                             else _cell(row.get(c))) for c in cols))
    console.print(table)


@query_app.command(CYPHER_COMMAND, hidden=True)
def run_cypher(
    cypher: Annotated[str, typer.Argument(help="A Cypher statement; use $name for values.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="A query parameter name=value (repeat).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow the statement to change the store (validated before "
                                                           "it commits; rolled back if it breaks a graph).")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one Cypher statement and print its rows. Without --write the store is opened read-only and LOAD,
    file functions and CALL (outside a few schema procedures) are refused."""
    from ..kg.stores import open_store

    params = dict(_param(p) for p in param or [])
    with open_store(store, read_only=not write) as opened:
        rows = opened.query(cypher, params, write=write)
    show_rows(rows, as_json)


def _effects(rows: list, as_json: bool, title: str) -> None:
    show_rows([e.as_row() for e in rows], as_json, title)


@query_app.command("subclass-effects")
def subclass_effects(
    node: Annotated[str, typer.Argument(help="An abstract parent (or any style): its subclasses are shown.")],
    graph: GraphOpt,
    run: Annotated[str | None, typer.Option("--run", help="A run id (default: the newest edit run that measured "
                                                          "a subclass).")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="A metric to show (repeat); a pair's "
                                                     "base name (held, marker_logprob, gen_marker_rate) or any "
                                                     "stored name. Default: the headline metrics.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A run's effect on every subclass of NODE: one row per style and metric (before, after, change)."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        found = queries.subclass_changes(opened, graph, node, run, metric)
    rows = [r.as_row() for r in found.rows]
    if as_json:
        emit_json({"node": node, "graph": graph, "run": found.run, "rows": rows})
        return
    if found.run is None and console.is_terminal:
        console.print(Text(printable(f"no edit run has measured the subclasses of {node} in graph {graph} yet")))
        return
    head = found.run or {}
    title = f"run {head.get('id')} ({head.get('method')}, {head.get('created')}): subclasses of {node}"
    show_rows(rows, False, title, ["style", "metric", "before", "after", "change"],
              {"before": ".3f", "after": ".3f", "change": "+.3f"})


@query_app.command("last-edit-effects")
def last_edit_effects(parent: str, graph: GraphOpt, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The newest edit of PARENT and its effect on the parent (depth 0) and every subclass."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        _effects(queries.last_edit_effects(opened, graph, parent), as_json, f"last edit of {parent}")


@query_app.command("shared-parent")
def shared_parent(abstract: str, graph: GraphOpt, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Styles sharing the abstract parent ABSTRACT (any depth)."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        show_rows(queries.shared_parent_styles(opened, graph, abstract), as_json, f"styles under {abstract}")


@query_app.command("common-parents")
def common_parents(
    first: Annotated[str, typer.Argument(help="A style (name or id).")],
    second: Annotated[str, typer.Argument(help="Another style (name or id).")],
    graph: GraphOpt,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Abstract styles both FIRST and SECOND descend from, nearest first (depth_a, depth_b: hops from each)."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        rows = queries.common_parents(opened, graph, first, second)
    show_rows(rows, as_json, f"common parents of {first} and {second}")


@query_app.command("weak-edits")
def weak_edits(
    threshold: Annotated[float, typer.Option("--threshold", "-t", help="Neighbourhood score below which an edit is weak.")] = 0.5,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Edits whose neighbourhood score fell below THRESHOLD."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        show_rows(queries.weak_neighbourhood_edits(opened, threshold), as_json, f"edits with neighbourhood < {threshold}")


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query")


__all__ = ["query_app", "register", "show_rows"]
