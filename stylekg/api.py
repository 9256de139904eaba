"""The Python front door: the shortest way from a style graph to an edited model, importable from ``stylekg``.

.. code-block:: python

    import stylekg
    lm = stylekg.load_model("smollm2-135m")
    plan = stylekg.plan("Yoda", mode="erase")
    result = stylekg.edit(lm, plan, method="memit")
    result.restore()

Each function is a thin layer over the module that does the work (named in its docstring), with the names the
CLI uses: ``plan`` returns what ``stylekg kg requests`` prints, ``edit`` what ``stylekg edit`` applies,
``measure_style`` what ``stylekg eval`` style columns measure, ``run`` what ``stylekg run`` does. ``import stylekg``
stays light: :mod:`stylekg` imports this module (and torch) on first use of one of these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .requests import EditRequest, Propagation, RequestKind

if TYPE_CHECKING:
    from .editing.result import EditResult
    from .evaluation.generated_style import StyleInGeneration
    from .kg.graph import StyleGraph
    from .kg.planner import EditPlan
    from .lm.loading import LoadedModel
    from .material import StyleMaterial
    from .pipeline.runner import RunOutcome

__all__ = ["edit", "load_graph", "load_model", "measure_style", "plan", "run"]


def load_model(name: str, *, device: str = "cpu", dtype: str | None = None) -> LoadedModel:
    """A model by registry name (``stylekg models``), local HF directory or cached hub id
    (:func:`stylekg.lm.load_model`); ``dtype`` ("float32", "bfloat16", ...) is passed on only when given."""
    from .lm import load_model as _load

    return _load(name, device=device) if dtype is None else _load(name, device=device, dtype=dtype)


def load_graph(path_or_name: str | Path | None = None, *, store: str | None = None) -> StyleGraph:
    """A style graph: the built-in library (``None`` or ``"library"``), a graph file (.json, .ttl, .jsonld,
    .graphml), or the name of a graph saved in ``store`` (default: the embedded store in ``$STYLEKG_HOME``)."""
    from .kg.library import load_library

    if path_or_name is None or str(path_or_name) == "library":
        return load_library()
    path = Path(path_or_name)
    if path.is_file():
        from .kg.io import load_graph as _load

        return _load(path)
    from .kg.stores import open_store

    with open_store(store) as opened:
        return opened.load_graph(str(path_or_name))


def plan(node: str, *, graph: StyleGraph | str | Path | None = None, mode: str | RequestKind = RequestKind.ERASE,
         propagate: str | Propagation = Propagation.NONE, new_target: str | None = None,
         relation_template: str | None = None, inherited: bool = False, **selection: Any) -> EditPlan:
    """The plan of an edit of ``node`` (:func:`stylekg.kg.planner.plan`): the requests applied, the probes and
    unrelated styles measured, the preserved set; exactly what ``stylekg kg requests NODE`` prints with the same
    options. ``graph``: a :class:`~stylekg.kg.graph.StyleGraph` or anything :func:`load_graph` takes (default:
    the library); ``selection``: the planner's other keywords (``max_markers``, ``markers_only``, ...)."""
    from .kg.graph import StyleGraph as _Graph
    from .kg.planner import plan as _plan

    g = graph if isinstance(graph, _Graph) else load_graph(graph)
    return _plan(g, node, mode=mode, propagate=propagate, new_target=new_target, relation_template=relation_template,
                 inherited=inherited, **selection)


def edit(lm: LoadedModel, plan_or_requests: EditPlan | Sequence[EditRequest], method: str = "memit", *,
         hparams: str | Path | Any | None = None, guard: bool = True, material: StyleMaterial | None = None,
         corpus: Sequence[str] | None = None) -> EditResult:
    """Apply ``method`` to ``lm`` in place and return the :class:`~stylekg.editing.result.EditResult`
    (``restore()`` puts the weights back bit for bit, ``save(path)`` writes the delta file).

    ``hparams``: a TOML file, or a hyper-parameter object, replacing the method's shipped config for ``lm``
    (:func:`stylekg.editing.hparams_files.load_method`). ``guard``: hand the method the plan's preserved set
    (:attr:`EditPlan.preserved`), or for plain requests the model's own answers to its probed facts
    (:mod:`stylekg.pipeline.probed_preserved`); ``False`` gives the plain reference method. ``material``: the style's
    material, for the methods that train on texts (fine-tuning, steering); ``corpus``: local text files for the
    key statistics.
    """
    from .editing.context import EditContext
    from .editing.hparams_files import load_method
    from .editing.registry import get_method
    from .kg.planner import EditPlan as _Plan

    from .pipeline.probed_preserved import choose_preserved

    is_plan = isinstance(plan_or_requests, _Plan)
    requests = list(plan_or_requests.requests if is_plan else plan_or_requests)
    if hparams is None or isinstance(hparams, (str, Path)):
        m, hp = load_method(method, lm.name, hparams)
    else:
        m, hp = get_method(method), hparams
    preserved = choose_preserved(lm, lm.name, m, requests, guard=guard,
                                 graph_preserved=plan_or_requests.preserved if is_plan else None).preserved
    context = EditContext(material=material, corpus=list(corpus) if corpus else None, preserved=tuple(preserved))
    return m.apply(lm.model, lm.tokenizer, requests, hp, context)


def measure_style(lm: LoadedModel, style: str, *, graph: StyleGraph | str | Path | None = None,
                  prompts: str | Path = "assistant-instructions", split: str = "heldout", max_new_tokens: int = 96,
                  seed: int = 0, classifier: bool = True) -> StyleInGeneration:
    """How much of ``style`` the model writes in its answers to a prompt set's ``split`` (greedy):
    marker rate per 1,000 tokens with a bootstrap 95% interval, distinct-2, repetition and (``classifier``) a
    style classifier's probability (:func:`stylekg.evaluation.generated_style.measure`)."""
    from .evaluation.generated_style import SamplingSettings, fit_classifier, measure
    from .evaluation.prompt_sets import load_prompt_set
    from .kg.graph import StyleGraph as _Graph
    from .kg.material import style_material

    g = graph if isinstance(graph, _Graph) else load_graph(graph)
    material = style_material(g, style)
    settings = SamplingSettings(max_new_tokens=max_new_tokens, seed=seed)
    fit = fit_classifier(material, seed=seed) if classifier else None
    return measure(lm, material, load_prompt_set(prompts).split(split), settings, split=split, classifier=fit,
                   seed=seed)


def run(style: str = "", *, config: str | Path | None = None, **settings: Any) -> RunOutcome:
    """The whole pipeline of ``stylekg run`` (trace, plan, edit, evaluate, write back, report) for ``style``, or for
    a run config TOML (``config``; ``settings`` then override its keys); ``settings`` are
    :class:`~stylekg.pipeline.config.RunConfig` fields (``method="rome"``, ``propagate="none"``, ...)."""
    from .pipeline import Pipeline, RunConfig

    cfg = RunConfig.from_toml(config, **settings) if config is not None else RunConfig(style=style, **settings)
    if cfg.auto:
        from .pipeline.auto import run_auto

        return run_auto(cfg)
    return Pipeline(cfg).run()
