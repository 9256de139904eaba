"""Store benchmark: upsert a 10,000-node style hierarchy and a run annotating every node, then time the
subclass-effects named query, on LadybugDB (embedded) and, when reachable, Neo4j.

    .venv/bin/python benchmarks/bench_store.py                      # LadybugDB only
    .venv/bin/python benchmarks/bench_store.py --neo4j bolt://127.0.0.1:7687
    .venv/bin/python benchmarks/bench_store.py --neo4j harness      # start tests/neo4j_launcher (Java + Maven)

Writes ``benchmarks/results/store.json``. Targets: embedded whole upsert in a few seconds, query < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import tempfile
import time
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

from stylekg.kg import queries
from stylekg.kg.graph import StyleGraph
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType, RunRecord, TargetMetrics
from stylekg.kg.stores import open_store

log = logging.getLogger("bench_store")
RESULTS = Path(__file__).parent / "results" / "store.json"


def hierarchy(n_nodes: int = 10_000, fan_out: int = 100) -> StyleGraph:
    """One root abstract style, ``fan_out`` abstract children, concrete styles spread under them."""
    root = Node(NodeType.ABSTRACT_STYLE, "Root style")
    mids = [Node(NodeType.ABSTRACT_STYLE, f"Abstract {i}") for i in range(fan_out - 1)]
    leaves = [Node(NodeType.STYLE, f"Style {i}") for i in range(n_nodes - fan_out)]
    edges = [Edge(EdgeType.SUBCLASS_OF, m.id, root.id) for m in mids]
    edges += [Edge(EdgeType.SUBCLASS_OF, s.id, mids[i % len(mids)].id) for i, s in enumerate(leaves)]
    graph = StyleGraph(name="bench-10k")
    graph.add_all([root, *mids, *leaves], edges)
    return graph


def annotation(graph: StyleGraph) -> RunRecord:
    targets = [TargetMetrics(n.id, {"efficacy": (i % 97) / 97, "neighbourhood": (i % 89) / 89},
                             "edited" if i == 0 else "subclass") for i, n in enumerate(graph.nodes())]
    return RunRecord(id="bench-run", kind="edit", method="rome", model="bench", graph=graph.name,
                     created="2024-01-01T00:00:00+00:00", targets=targets)


def bench(spec: str, graph: StyleGraph, repeats: int) -> dict:
    with open_store(spec) as store:
        store.delete_graph(graph.name)
        t0 = time.perf_counter()
        store.save_graph(graph)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.save_graph(graph)
        again = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.write_run(annotation(graph))
        run_s = time.perf_counter() - t0
        mid = "Abstract 7"
        lat_mid, lat_root = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows = queries.subclass_effects(store, graph.name, mid)
            lat_mid.append(time.perf_counter() - t0)
        for _ in range(max(1, repeats // 4)):
            t0 = time.perf_counter()
            everything = queries.subclass_effects(store, graph.name, "Root style")
            lat_root.append(time.perf_counter() - t0)
        store.delete_graph(graph.name)
        return {
            "store": store.location, "nodes": len(graph), "edges": sum(1 for _ in graph.edges()),
            "upsert_first_s": round(first, 3), "upsert_again_s": round(again, 3),
            "write_run_s": round(run_s, 3), "run_targets": len(graph),
            "subclass_effects_one_abstract_ms": round(1000 * statistics.median(lat_mid), 2),
            "subclass_effects_one_abstract_rows": len(rows),
            "subclass_effects_root_ms": round(1000 * statistics.median(lat_root), 2),
            "subclass_effects_root_rows": len(everything),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neo4j", help="Neo4j bolt/neo4j URI, or 'harness' to start the test launcher")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    graph = hierarchy()
    results = {"python": platform.python_version(), "machine": platform.machine(), "stores": {}}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        results["stores"]["ladybug"] = bench(str(Path(tmp) / "bench.lbug"), graph, args.repeats)
        log.info("ladybug: %s", results["stores"]["ladybug"])
        uri = args.neo4j
        if uri == "harness":
            uri = stack.enter_context(_harness())
        if uri:
            results["stores"]["neo4j"] = bench(uri, graph, args.repeats)
            log.info("neo4j: %s", results["stores"]["neo4j"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", args.out)


@contextmanager
def _harness():
    """Neo4j from the tests' launcher (tests/neo4j_launcher), stopped on exit."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.store_fixtures import start_harness, stop_harness

    with tempfile.TemporaryDirectory() as tmp:
        proc, uri = start_harness(Path(tmp) / "launcher.log")
        try:
            yield uri
        finally:
            stop_harness(proc)


if __name__ == "__main__":
    main()
