"""``stylekg query``: Cypher on the graph store (read-only unless ``--write``) and the named queries."""

from __future__ import annotations

import json
from typing import Annotated, Any

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from .common import JsonOpt, StoreOpt, console, emit_json

class _CypherFirst(TyperGroup):
    """``stylekg query "MATCH ..."`` runs the hidden ``run`` command; a known name runs that named query."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


query_app = typer.Typer(
    cls=_CypherFirst,
    no_args_is_help=True,
    help='Run Cypher on the graph store: `stylekg query "MATCH (s:Style) RETURN s.name"`, or a named query.',
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


def _show(rows: list[dict[str, Any]], as_json: bool, title: str = "") -> None:
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("(no rows)")
        return
    cols = list(dict.fromkeys(k for row in rows for k in row))
    table = Table(title=title or None)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else json.dumps(row[c], default=str) if isinstance(row.get(c), (dict, list))
                        else str(row[c]) for c in cols))
    console.print(table)


@query_app.command("run", hidden=True)
def run_cypher(
    cypher: Annotated[str, typer.Argument(help="A Cypher statement; use $name for values.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="A query parameter name=value (repeat).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow the statement to change the store.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one Cypher statement and print its rows."""
    from ..kg.stores import open_store

    params = dict(_param(p) for p in param or [])
    with open_store(store) as opened:
        rows = opened.query(cypher, params, write=write)
    _show(rows, as_json)


def _effects(rows: list, as_json: bool, title: str) -> None:
    _show([e.as_row() for e in rows], as_json, title)


@query_app.command("subclass-effects")
def subclass_effects(node: str, graph: GraphOpt, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Subclasses of NODE at any depth with the metrics of their latest run."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store) as opened:
        _effects(queries.subclass_effects(opened, graph, node), as_json, f"subclasses of {node}")


@query_app.command("last-edit-effects")
def last_edit_effects(parent: str, graph: GraphOpt, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The newest edit of PARENT and its effect on the parent (depth 0) and every subclass."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store) as opened:
        _effects(queries.last_edit_effects(opened, graph, parent), as_json, f"last edit of {parent}")


@query_app.command("shared-parent")
def shared_parent(abstract: str, graph: GraphOpt, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Styles sharing the abstract parent ABSTRACT (any depth)."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store) as opened:
        _show(queries.shared_parent_styles(opened, graph, abstract), as_json, f"styles under {abstract}")


@query_app.command("weak-edits")
def weak_edits(
    threshold: Annotated[float, typer.Option("--threshold", "-t", help="Neighbourhood score below which an edit is weak.")] = 0.5,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Edits whose neighbourhood score fell below THRESHOLD."""
    from ..kg import queries
    from ..kg.stores import open_store

    with open_store(store) as opened:
        _show(queries.weak_neighbourhood_edits(opened, threshold), as_json, f"edits with neighbourhood < {threshold}")


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query")
