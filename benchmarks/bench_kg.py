"""Benchmark: build, validate and expand a generated 10,000-node style hierarchy; inheritance queries.

A random DAG of abstract styles (each with 1-2 parents among earlier nodes), concrete styles under
them, one trait with two markers per abstract style. Prints a table and writes
``benchmarks/results/kg.json`` (absolute seconds plus per-query microseconds).
Run: ``.venv/bin/python benchmarks/bench_kg.py [--nodes 10000]``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from stylekg.kg import Edge, EdgeType, Node, NodeType, StyleGraph
from stylekg.kg.inheritance import Hierarchy
from stylekg.kg.to_requests import to_edit_requests


def generate(n_nodes: int, seed: int = 0) -> tuple[list[Node], list[Edge]]:
    """~n_nodes nodes: abstract styles (10%), their traits and markers, and concrete styles."""
    rng = random.Random(seed)
    n_abstract = n_nodes // 10
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i in range(n_abstract):
        a = Node(NodeType.ABSTRACT_STYLE, f"abstract {i}")
        t = Node(NodeType.TRAIT, f"trait {i}", properties={"template": "{} tends to say"})
        nodes += [a, t]
        edges.append(Edge(EdgeType.HAS_TRAIT, a.id, t.id))
        for k in range(2):
            m = Node(NodeType.MARKER, f"marker {i}-{k}")
            nodes.append(m)
            edges.append(Edge(EdgeType.EXPRESSED_BY, t.id, m.id))
        if i:
            for p in {rng.randrange(i) for _ in range(rng.choice((1, 2)))}:
                edges.append(Edge(EdgeType.SUBCLASS_OF, a.id, f"AbstractStyle:abstract-{p}"))
    i = 0
    while len(nodes) < n_nodes:
        s = Node(NodeType.STYLE, f"style {i}")
        nodes.append(s)
        for p in {rng.randrange(n_abstract) for _ in range(2)}:
            edges.append(Edge(EdgeType.SUBCLASS_OF, s.id, f"AbstractStyle:abstract-{p}"))
        i += 1
    return nodes, edges


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "kg.json")
    args = ap.parse_args()
    (nodes, edges), t_gen = timed(lambda: generate(args.nodes))
    graph = StyleGraph("bench")
    _, t_build = timed(lambda: graph.add_all(nodes, edges))
    _, t_validate = timed(graph.validate)
    h, t_hier = timed(lambda: Hierarchy(graph))
    styles = [n.id for n in graph.nodes(NodeType.STYLE)]
    abstracts = [n.id for n in graph.nodes(NodeType.ABSTRACT_STYLE)]
    traits, t_traits = timed(lambda: [h.effective_traits(s) for s in styles])
    _, t_markers = timed(lambda: [h.effective_markers(s) for s in styles])
    _, t_sub = timed(lambda: [h.subclasses(a) for a in abstracts])
    rng = random.Random(1)
    pairs = [(rng.choice(styles), rng.choice(styles)) for _ in range(1000)]
    _, t_lca = timed(lambda: [h.lowest_common_parents(a, b) for a, b in pairs])
    sample = styles[:200]
    reqs, t_expand = timed(lambda: [r for s in sample for r in to_edit_requests(graph, s, "erase", inherited=True,
                                                                                 n_misspellings=1)])
    results = {
        "nodes": len(graph), "edges": graph.number_of_edges(), "styles": len(styles), "abstract": len(abstracts),
        "seconds": {"generate": t_gen, "build_add_all": t_build, "validate": t_validate, "hierarchy_snapshot": t_hier,
                    "effective_traits_all_styles": t_traits, "effective_markers_all_styles": t_markers,
                    "subclasses_all_abstract": t_sub, "lowest_common_parents_1000_pairs": t_lca,
                    "expand_to_requests_200_styles": t_expand},
        "per_query_us": {"effective_traits": 1e6 * t_traits / len(styles), "subclasses": 1e6 * t_sub / len(abstracts),
                         "lowest_common_parents": 1e6 * t_lca / len(pairs)},
        "mean_effective_traits": sum(map(len, traits)) / len(traits), "requests": len(reqs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results["seconds"].items():
        print(f"{key:38s} {value:8.3f} s")
    for key, value in results["per_query_us"].items():
        print(f"{key:38s} {value:8.1f} µs/query")
    print(f"{results['nodes']} nodes, {results['edges']} edges, {results['requests']} requests -> {args.out}")


if __name__ == "__main__":
    main()
