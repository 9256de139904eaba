"""``stylekg query effects RUN`` and ``stylekg query substitutions RUN``: the audit of a run (docs/evaluation.md).

RUN is ``latest`` (the newest audited run), a stored run id, or the id of a run directory.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import JsonOpt, StoreOpt, emit_json
from .query import query_app, show_rows

RunArg = Annotated[str, typer.Argument(help="`latest`, a stored run id, or a run directory's id.")]
RATE = ".2f"


def _title(record, what: str) -> str:  # type: ignore[no-untyped-def]
    edited = ", ".join(record.params.get("edited") or [record.params.get("node", "")])
    return (f"{what} of run {record.id} ({record.method}, propagate {record.params.get('propagate')}, edited "
            f"{edited}); per 1,000 generated tokens on each node's family's held-out answers")


def effects(run: RunArg, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """One row per measured node (styles, traits, markers, neutral forms): before, after, 95% intervals, hits and
    direction (fell / rose when the intervals separate, unchanged, absent when never written)."""
    from ..kg.run_effects import effect_rows
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        record, rows = effect_rows(opened, run)
    if as_json:
        emit_json({"run": record.id, "params": record.params, "rows": rows})
        return
    for row in rows:
        row["before [95% CI]"] = f"{row['before']:.2f} [{row['before_low']:.2f}, {row['before_high']:.2f}]"
        row["after [95% CI]"] = f"{row['after']:.2f} [{row['after_low']:.2f}, {row['after_high']:.2f}]"
    show_rows(rows, False, _title(record, "Effects"),
              ["node", "type", "role", "before [95% CI]", "after [95% CI]", "hits_before", "hits_after", "prompts",
               "direction", "tf_held_before", "tf_held_after"], {"tf_held_before": ".0%", "tf_held_after": ".0%"})


def substitutions(run: RunArg, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """What rose in RUN: graph markers, traits, styles or neutral forms whose after-interval lies above the
    before-interval, and the model's frequent n-grams that did (in_graph false), the largest rise first."""
    from ..kg.run_effects import substitution_rows
    from ..kg.stores import open_store

    with open_store(store, read_only=True) as opened:
        record, rows = substitution_rows(opened, run)
    if as_json:
        emit_json({"run": record.id, "rows": rows})
        return
    show_rows(rows, False, _title(record, "What rose"),
              ["phrase", "kind", "in_graph", "before", "after", "hits_before", "hits_after"],
              {"before": RATE, "after": RATE})


def effect_matrix(
    runs: Annotated[list[str], typer.Argument(help="Runs (`latest`, ids or run directory ids), one row each.")],
    every_node: Annotated[bool, typer.Option("--every-node", help="Traits and markers too, not only styles.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The effect matrix: one row per run (edited nodes, propagation), one column per measured style: the change
    per 1,000 generated tokens and its direction. Pass a --propagate none run and an explicit one side by side."""
    from ..kg.run_effects import effect_matrix as matrix
    from ..kg.stores import open_store

    kinds = ("AbstractStyle", "Style", "Trait", "Marker") if every_node else ("AbstractStyle", "Style")
    with open_store(store, read_only=True) as opened:
        rows = matrix(opened, runs, kinds)
    show_rows(rows, as_json, "Effect matrix: change per 1,000 generated tokens (direction by 95% intervals)")


def print_audit(effects: dict) -> None:
    """Each style's own-marker change on its own family (``stylekg run`` / ``stylekg demo``), then what rose."""
    from rich.table import Table
    from rich.text import Text

    from .common import console

    table = Table("style", "role", "family", "own markers before [95% CI]", "after [95% CI]", "hits", "direction",
                  "teacher-forced held", title="Each style's own markers on its own family's held-out answers "
                                                "(per 1,000 generated tokens)")
    for r in effects.get("rows") or []:
        if r["kind"] in ("Marker", "Trait", "Neutral form"):
            continue
        tf = r.get("teacher_forced")
        table.add_row(*(Text(str(x)) for x in (
            r["name"], r["role"], r["family"] or "all", _ci(r["before"]), _ci(r["after"]),
            f"{r['before']['hits']} → {r['after']['hits']}", r["direction"],
            f"{tf['held_before']:.0%} → {tf['held_after']:.0%} (n={tf['n']})" if tf else "-")))
    console.print(table)
    rose = (effects.get("substitutions") or [])[:8]
    if rose:
        subs = Table("phrase", "kind", "hits", "after [95% CI]", title="What rose (stylekg query substitutions latest)")
        for r in rose:
            subs.add_row(*(Text(str(x)) for x in (r["name"], r["kind"], f"{r['before']['hits']} → {r['after']['hits']}",
                                                  _ci(r["after"]))))
        console.print(subs)
    else:
        console.print("nothing rose (no audited node or frequent n-gram has its interval above the one before)")


def _ci(rate: dict) -> str:
    return f"{rate['per_1k']:.2f} [{rate['low']:.2f}, {rate['high']:.2f}]"


def register(app: typer.Typer) -> None:  # noqa: ARG001 - the commands join `stylekg query`
    query_app.command("effects")(effects)
    query_app.command("substitutions")(substitutions)
    query_app.command("effect-matrix")(effect_matrix)


__all__ = ["effects", "register", "substitutions"]
