"""The built-in style library: JSON records under ``stylekg/data/library/`` and their loader.

``_abstract.json`` holds the shared abstract parents (each with its own traits); every other file is one
style record (see :mod:`.records`). :func:`load_library` builds one :class:`StyleGraph` holding all of them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ...errors import GraphError
from ...material import StyleMaterial
from ..graph import StyleGraph
from ..inheritance import resolve_style
from ..material import style_material
from ..subgraphs import neighbourhood, subgraph
from ..schema import NodeType, Provenance
from .records import NEUTRAL_ID, PLAIN_TRAIT_ID, alias_kind, link_neutral, record_to_graph_parts

LIBRARY_PROVENANCE = Provenance("library", "stylekg built-in library")

__all__ = [
    "LIBRARY_PROVENANCE", "NEUTRAL_ID", "PLAIN_TRAIT_ID", "alias_kind", "library_dir", "library_records",
    "library_names", "load_library", "library_style", "record_to_graph_parts", "abstract_records",
]


def library_dir() -> Path:
    return Path(str(resources.files("stylekg.data").joinpath("library")))


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GraphError(f"library file {path.name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


@lru_cache(maxsize=1)
def _records() -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    root = library_dir()
    abstract = tuple(_read(root / "_abstract.json")["abstract_styles"])
    styles = tuple(_read(p) for p in sorted(root.glob("*.json")) if not p.name.startswith("_"))
    return abstract, styles


def abstract_records() -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r)) for r in _records()[0]]


def library_records() -> dict[str, dict[str, Any]]:
    """Every style record by name (copies: safe to modify)."""
    return {r["name"]: json.loads(json.dumps(r)) for r in _records()[1]}


def library_names() -> list[str]:
    return sorted(library_records())


def load_library(name: str = "library") -> StyleGraph:
    """The whole built-in library as one validated graph (built fresh on each call)."""
    graph = StyleGraph(name, "stylekg built-in style library", {"source": "library"})
    abstract, styles = _records()
    nodes, edges = [], []
    ids = {a["name"].lower(): f"AbstractStyle:{_slug(a['name'])}" for a in abstract}
    for rec in abstract:
        n, e = record_to_graph_parts(dict(rec, type="AbstractStyle"), LIBRARY_PROVENANCE, parent_ids=ids,
                                     where=f"_abstract.json ({rec['name']!r})")
        nodes += n
        edges += e
    for rec in styles:
        n, e = record_to_graph_parts(rec, LIBRARY_PROVENANCE, parent_ids=ids, where=f"library {rec['name']!r}")
        nodes += n
        edges += e
    edges += link_neutral(nodes, edges, any(n.id == PLAIN_TRAIT_ID for n in nodes), LIBRARY_PROVENANCE)
    graph.add_all(nodes, edges)
    graph.validate()
    return graph


def library_style(name: str) -> StyleGraph:
    """One library style (by name or alias) with its ancestors, traits, markers, aliases and facts."""
    full = load_library()
    try:
        nid = resolve_style(full, name)
    except GraphError:
        raise GraphError(f"no library style named {name!r}", hint=f"try one of: {', '.join(library_names())}") from None
    node = full.node(nid)
    if node.type not in (NodeType.STYLE, NodeType.ABSTRACT_STYLE, NodeType.NEUTRAL):
        raise GraphError(f"{name!r} is a {node.type.value}, not a style")
    return subgraph(full, neighbourhood(full, nid), name=node.name)


def library_material(name: str, **kwargs: Any) -> StyleMaterial:
    """The material of a built-in library style (raises naming the library's styles when unknown)."""
    return style_material(library_style(name), name, **kwargs)


def _slug(name: str) -> str:
    from ..schema import slug

    return slug(name)
