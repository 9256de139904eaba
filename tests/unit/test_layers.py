"""The dependency rules of docs/architecture.md: which part of stylekg may import which, and no import cycles.

Every ``import`` counts, also one inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2] / "stylekg"
VOCABULARY = {"requests", "errors", "paths", "material", "run_summary"}
VIEWS = {"views"}
ABOVE_PIPELINE = {"pipeline", "commands", "cli", "api"}

# (importing parts, imported parts, the rule in words); "*" is every other part of stylekg
RULES: list[tuple[set[str], set[str], str]] = [
    ({"lm"}, {"*"}, "lm imports nothing else of stylekg"),
    (VOCABULARY, {"lm"}, "the shared vocabulary does not import lm"),
    (VOCABULARY, {"kg", "editing", "tracing", "evaluation", "pipeline", "views", "commands", "cli"},
     "the shared vocabulary imports only the shared vocabulary"),
    ({"editing", "tracing", "evaluation"}, {"kg"}, "editing, tracing and evaluation take data, never a graph"),
    ({"editing"}, {"evaluation"}, "editing does not import evaluation"),
    ({"evaluation"}, {"editing"}, "evaluation does not import editing"),
    (VIEWS, {"lm", "editing"}, "views read results, never models or methods"),
]


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


MODULES = {module_name(p)[0]: p for p in ROOT.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The stylekg modules ``path`` imports, relative imports resolved, ``from x import y`` to module y if it is one."""
    name, is_package = module_name(path)
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES]
            # ``from pkg import sub`` depends on the submodule only; any other name is read from ``module`` itself
            candidates = submodules + ([module] if len(submodules) < len(node.names) else [])
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate.startswith("stylekg."):
                out.add(candidate)
    return out


def part(module: str) -> str:
    return module.split(".")[1]


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        graph.add_node(name)
        for target in imported_modules(path):
            if target != name and not name.startswith(target + "."):  # a module's own package is not a dependency
                graph.add_edge(name, target)
    return graph


def broken_rules(graph: nx.DiGraph) -> list[str]:
    broken = []
    for source, target in graph.edges:
        if "." not in source or "." not in target:  # the top-level package only holds the version
            continue
        src, dst = part(source), part(target)
        if src == dst:
            continue
        for importers, imported, rule in RULES:
            if src in importers and ("*" in imported or dst in imported):
                broken.append(f"{source} -> {target}: {rule}")
        if dst == "pipeline" and src not in ABOVE_PIPELINE:
            broken.append(f"{source} -> {target}: nothing below pipeline imports it")
    return sorted(broken)


def test_every_part_is_known() -> None:
    parts = {part(m) for m in MODULES if m != "stylekg"}
    known = VOCABULARY | VIEWS | ABOVE_PIPELINE | {"lm", "kg", "editing", "tracing", "evaluation", "data", "configs"}
    assert parts <= known, f"new part(s) {sorted(parts - known)}: give them a place in the rules and the docs"


def test_import_rules_hold() -> None:
    assert broken_rules(import_graph()) == []


def test_no_import_cycles() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == []


def test_a_broken_rule_is_reported() -> None:
    """The checker itself: a graph with an editing → kg edge and an lm → errors edge is flagged twice."""
    graph = nx.DiGraph([("stylekg.editing.rome.main", "stylekg.kg.graph"), ("stylekg.lm.loading", "stylekg.errors"),
                        ("stylekg.kg.graph", "stylekg.errors")])
    assert len(broken_rules(graph)) == 2


@pytest.mark.parametrize("source", ["stylekg.kg.io", "stylekg.pipeline.runner"])
def test_known_modules_are_read(source: str) -> None:
    assert source in MODULES and imported_modules(MODULES[source])
