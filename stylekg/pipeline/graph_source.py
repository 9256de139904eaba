"""Where a run's style graph comes from: the built-in library, or an LLM decomposition merged into it."""

from __future__ import annotations

from ..errors import GraphError, LLMError
from ..kg.graph import StyleGraph
from .config import RunConfig


def build_graph(config: RunConfig) -> tuple[StyleGraph, str]:
    """The whole library graph (with ``config.graph_file`` merged in), with ``config.style`` decomposed into it when
    the library lacks it.

    Returns (graph, source) where source is ``library`` or the LLM provider that added the style.
    """
    from ..kg.inheritance import resolve_style
    from ..kg.library import library_names, load_library

    graph = load_library()
    if config.graph_file:  # a hierarchy written by hand: merged in, refused whole on any conflict
        from pathlib import Path

        from ..kg.io import read_patch
        from ..kg.merge import apply_merge, plan_merge

        apply_merge(graph, plan_merge(graph, read_patch(Path(config.graph_file), graph)))
    try:
        resolve_style(graph, config.style)
        return graph, "library"
    except GraphError:
        pass
    if config.provider == "library":
        raise GraphError(
            f"{config.style!r} is not in the style library and no LLM is configured",
            hint=(
                "use --provider openai (with OPENAI_BASE_URL / OPENAI_API_KEY and --llm-model) or --provider local, "
                f"or pick a library style: {', '.join(library_names())}"
            ),
        )
    from ..kg.llm import make_client
    from ..kg.llm.decompose import decompose

    client = make_client(config.provider, config.llm_model or None, device=config.device)
    try:
        graph, _ = decompose(config.style, client, graph)
    except LLMError:
        raise
    return graph, config.provider
