"""The checks a job makes before it writes anything: a run that cannot work stops with one line and leaves no
run directory, no stage file and no graph in the store.

They cost milliseconds: the method's hyper-parameter file is read, the model's source is located without reading
weights, a Neo4j store is reached (read-only: nothing is created), and a library style is resolved in the library
graph (a style the library lacks is checked later, by the LLM that decomposes it).
"""

from __future__ import annotations

from .config import RunConfig


def check_run(config: RunConfig) -> None:
    """Raise the error the run would meet later if its model, method, device, store server, style or edited node is
    unknown or out of reach."""
    from ..editing.hparams_files import hparams_file, load_method
    from ..lm.loading import check_model, resolve_device
    from ..lm.placement import resolve_dtype

    check_model(config.model)  # a registry name, a model directory or a cached hub id
    # an unknown method, or no hyper-parameters for this model
    load_method(config.method, config.model, hparams_file(config.hparams) if config.hparams else None)
    resolve_device(config.device)  # a torch device that exists here
    resolve_dtype(config.dtype)
    if config.prompts:  # judged in generated text: both splits of the prompt set must hold prompts
        from ..evaluation.prompt_sets import load_prompt_set

        prompt_set = load_prompt_set(config.prompts)
        prompt_set.split("heldout")
        if config.edit_data == "occurrences":
            prompt_set.split("train")
        if config.judge_model:  # the judge's endpoint answers (nothing is asked yet)
            from ..kg.llm import make_client

            make_client("openai", config.judge_model).check_reachable()
    if config.store and ("://" in config.store or config.store == "neo4j"):  # a server: reachable, read nothing
        from ..kg.stores import open_store

        with open_store(config.store, read_only=True):
            pass
    if config.auto:
        return
    from ..errors import GraphError
    from ..kg.inheritance import resolve_style
    from .graph_source import build_graph
    from .stages import edited_node

    if config.provider != "library":
        from ..kg.library import load_library

        try:
            resolve_style(load_library(), config.style)
        except GraphError:
            return  # decomposed by the LLM during the graph stage
    graph, _ = build_graph(config)  # for the library provider: an unknown style names the library's styles
    node = edited_node(graph, resolve_style(graph, config.style), config)  # --node exists; a parent with markers
    if config.prompts:
        from ..errors import MaterialError
        from ..kg.material import style_material

        if not any(not m.is_neutral for m in style_material(graph, node).markers):
            raise MaterialError(f"{graph.node(node).name!r} has no markers to look for in generated text",
                                hint="add traits with markers to it (stylekg kg mine), or pick another --node")
