"""What a valid store looks like, checked inside a write transaction before it commits.

A ``--write`` query can do anything Cypher allows; this module finds what it broke, so the store can roll it back:

* a style node without a known graph, or whose ``key``/``type`` disagrees with its ``id``/``graph``/label;
* an edge whose ``key`` disagrees with its ``id``/``graph``, or that joins two graphs;
* a stored graph that no longer loads as a valid :class:`~stylekg.kg.graph.StyleGraph`: a value missing or of the
  wrong type (an edge without a weight), an edge joining the wrong node types (``AbstractStyle → Style`` under
  ``SUBCLASS_OF``), a ``SUBCLASS_OF`` cycle.

:func:`store_problems` returns a snapshot; :func:`new_problems` compares two, so a write into one graph is not
refused because another graph was already broken (by an outside client) before it.
"""

from __future__ import annotations

from typing import Any

from ...errors import StoreError
from ..schema import EdgeType, NodeType
from .rows import Read, build_graph

MAX_LISTED = 5  # problems named in one message


def store_problems(read: Read, cypher: Any, graphs: list[str] | None = None) -> dict[str, str]:
    """Everything broken in the store: problem key → message. With ``graphs``, only whether those graphs load
    (what a save, which writes consistent rows, can break)."""
    heads = {r["name"]: r for r in read(*cypher.list_graph_heads())}
    found: dict[str, str] = {}
    for label in NodeType if graphs is None else ():
        for row in read(*cypher.stray_nodes(label)):
            found[f"node:{row['key']}"] = (f"{label.value} node {row['id']!r} (key {row['key']!r}, graph "
                                           f"{row['graph']!r}) has a missing or inconsistent id, key, type or name")
        for row in read(*cypher.count_nodes(label)):
            if row["graph"] is not None and row["graph"] not in heads:
                found[f"orphans:{label.value}:{row['graph']}"] = (
                    f"{row['n']} {label.value} node(s) belong to graph {row['graph']!r}, which is not stored")
    for etype in EdgeType if graphs is None else ():
        for row in read(*cypher.stray_edges(etype)):
            found[f"edge:{row['key']}"] = (f"{etype.value} edge {row['id']!r} (key {row['key']!r}) has a missing or "
                                           "inconsistent id, key or graph, or joins two graphs")
    for name in sorted(heads) if graphs is None else [g for g in graphs if g in heads]:
        try:
            build_graph(read, cypher, name, heads[name], strict=True)
        except StoreError as exc:
            found[f"graph:{name}"] = exc.args[0]
    return found


def new_problems(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Messages of the problems in ``after`` that ``before`` did not have (a changed message counts as new)."""
    return [msg for key, msg in after.items() if before.get(key) != msg]


WRITE_HINT = ("keep SUBCLASS_OF pointing at AbstractStyle nodes and acyclic, give every edge a weight, and set id, "
              "key (id@graph), graph, type and name on every node")
MERGE_HINT = ("the stored graph and the saved one disagree: save into another graph (--graph NAME), or make the stored "
              "graph exactly the saved one with --replace (add --dry-run first to see what it would delete)")


def refuse(what: str, problems: list[str], hint: str = WRITE_HINT) -> None:
    """Raise the :class:`StoreError` that rolls the write back, naming the first problems."""
    shown = "; ".join(problems[:MAX_LISTED]) + (f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else "")
    raise StoreError(f"{what} would leave the store invalid, so it was rolled back: {shown}", hint=hint)
