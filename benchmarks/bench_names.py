"""Benchmark: load a graph file whose edges name their ends by name (or by id), then save it into LadybugDB.

Half ``Style`` and half ``Alias`` nodes, one ``ALIAS_OF`` edge per alias; the graph is built with
:func:`stylekg.kg.jsonform.from_dict` (what ``kg import``/``kg save FILE`` do) and, with ``--save``, saved into a
fresh LadybugDB store. Issue 25 item 7: name lookups used to scan every node per edge end (5,000 aliases: 98 s).
Run: ``.venv/bin/python benchmarks/bench_names.py --nodes 200000 --by name --save``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from stylekg.kg.jsonform import FORMAT, VERSION, from_dict
from stylekg.kg.stores import open_store


def graph_file(n: int, by: str) -> dict:
    """The JSON layout of an ``n``-node graph whose edges name their ends ``by`` name or id."""
    half = n // 2
    nodes = [{"type": "Style", "name": f"Style {i}"} for i in range(half)]
    nodes += [{"type": "Alias", "name": f"Alias {i}"} for i in range(n - half)]
    edges = [{"type": "ALIAS_OF",
              "source": f"Alias {i}" if by == "name" else f"Alias:alias-{i}",
              "target": f"Style {i % half}" if by == "name" else f"Style:style-{i % half}"} for i in range(n - half)]
    return {"format": FORMAT, "version": VERSION, "name": "big", "nodes": nodes, "edges": edges}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--by", choices=("name", "id"), default="name")
    parser.add_argument("--save", action="store_true", help="also save the graph into a fresh LadybugDB store")
    args = parser.parse_args()
    data = graph_file(args.nodes, args.by)
    start = time.perf_counter()
    graph = from_dict(data)
    line = f"nodes={len(graph)} edges={graph.number_of_edges()} by={args.by} build={time.perf_counter() - start:.2f}s"
    if args.save:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            with open_store(Path(tmp) / "bench.lbug") as store:
                store.save_graph(graph)
            line += f" save={time.perf_counter() - start:.2f}s"
    print(line)


if __name__ == "__main__":
    main()
