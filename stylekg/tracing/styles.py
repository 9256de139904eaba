"""Style targets: prompts naming a style, scored by the log-odds of its markers vs neutral forms.

The style score works from plain marker strings (:func:`stylekg.tracing.targets.style_target`); this
module only reads those strings from a style graph (the built-in library is imported lazily).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TraceError
from ..kg.graph import StyleGraph
from ..kg.schema import EdgeType, NodeType

PROMPT_TEMPLATES: tuple[str, ...] = (
    "{} once said that the world is",
    "In the words of {}, life is",
    "Here is how {} describes the sky: it is",
)


@dataclass(frozen=True)
class StyleSpec:
    """What a style trace needs: the subject as written in prompts, markers and neutral forms."""

    name: str
    markers: tuple[str, ...]
    neutrals: tuple[str, ...]

    def prompts(self, templates: tuple[str, ...] = PROMPT_TEMPLATES) -> list[str]:
        return [t.format(self.name) for t in templates]


def _continuation(text: str) -> str:
    return text if text.startswith(" ") else " " + text


def style_spec(graph: StyleGraph, name: str) -> StyleSpec:
    """Markers (inherited through SUBCLASS_OF) of style ``name`` paired with their neutral forms."""
    from ..kg.inheritance import effective_markers, resolve_style

    node = graph.node(resolve_style(graph, name))
    markers, neutrals = [], []
    for inherited in effective_markers(graph, node.id):
        marker = graph.node(inherited.id)
        forms = graph.out_edges(marker.id, EdgeType.NEUTRAL_FORM)
        if marker.properties.get("neutral") or not forms:
            continue
        markers.append(_continuation(marker.properties.get("text", marker.name)))
        neutrals.extend(_continuation(graph.node(f.target).name) for f in forms)
    if not markers:
        raise TraceError(f"style {node.name!r} has no markers with neutral counterparts",
                         hint="add NEUTRAL_FORM edges from its markers, or pass --marker/--neutral")
    subject = node.name if node.type is not NodeType.NEUTRAL else "a plain writer"
    return StyleSpec(subject, tuple(dict.fromkeys(markers)), tuple(dict.fromkeys(neutrals)))


def library_spec(name: str) -> StyleSpec:
    """A library style's spec (needs :mod:`stylekg.kg.library`)."""
    try:
        from ..kg.library import library_style
    except ImportError as exc:  # the library is optional for tracing
        raise TraceError("the style library is not available", hint="pass --graph FILE or --marker/--neutral") from exc
    return style_spec(library_style(name), name)
