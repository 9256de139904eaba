"""The stages of ``stylekg run`` as public functions with typed inputs and outputs.

graph → presence probe → trace → layers → requests → (install) → before → edit → after → summary. The runner
(:mod:`.runner`) and the auto job (:mod:`.auto`) compose them; each output is a dataclass that the stage cache
(:mod:`.stage_cache`) stores as JSON, so a re-run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..editing.registry import Method
from ..editing.requests_io import to_records
from ..errors import RunError
from ..kg.graph import StyleGraph
from ..kg.planner import EditPlan
from ..kg.schema import EdgeType, NodeType
from ..paths import atomic_write_text
from ..requests import EditRequest, Preserved, Propagation, RequestKind
from ..run_summary import Record, RunSummary, StyleRow, TraceSummary
from .config import RunConfig
from .measure import per_style, request_scores
from .session import ModelSession


def versions() -> dict[str, str]:
    """The versions a run depends on (recorded in its summary)."""
    import torch
    import transformers

    return {"stylekg": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version()}


# ---- graph --------------------------------------------------------------------------------------------------
@dataclass
class GraphInfo(Record):
    """The run's graph (saved as ``graph.json``), the traced style and the node the edit starts at."""

    name: str
    nodes: int
    edges: int
    source: str  # library | the LLM provider that decomposed the style
    style_id: str
    node_id: str



def prepare_graph(config: RunConfig, run_dir: Path) -> GraphInfo:
    """Build the graph (library, or decomposed by the LLM), pick the edited node, save it in the run directory.

    The store is written only at write-back, with the run's records, so a run that fails leaves it as it was."""
    from ..kg.inheritance import resolve_style
    from ..kg.jsonform import to_json
    from .graph_source import build_graph

    graph, source = build_graph(config)
    style_id = resolve_style(graph, config.style)
    node_id = edited_node(graph, style_id, config)
    atomic_write_text(run_dir / "graph.json", to_json(graph))
    return GraphInfo(graph.name, len(graph), graph.number_of_edges(), source, style_id, node_id)


def load_run_graph(run_dir: Path) -> StyleGraph:
    from ..kg.jsonform import from_json

    path = run_dir / "graph.json"
    return from_json(path.read_text(), source=str(path))


def edited_node(graph: StyleGraph, style_id: str, config: RunConfig) -> str:
    """``config.node``; else the style itself (no propagation); else its nearest abstract parent with markers of its
    own (erasing it propagates), or failing that with inherited markers."""
    from ..kg.inheritance import ancestors, effective_markers

    if config.node:
        return graph.find(config.node).id
    if config.propagate == Propagation.NONE:
        return style_id
    parents = [p for p in ancestors(graph, style_id) if graph.node(p).type is NodeType.ABSTRACT_STYLE]
    for parent in parents:
        if any(m.via in {e.target for e in graph.out_edges(parent, EdgeType.HAS_TRAIT)}
               for m in effective_markers(graph, parent)):
            return parent
    for parent in parents:
        if effective_markers(graph, parent):
            return parent
    raise RunError(f"style {config.style!r} has no abstract parent with markers to propagate through",
                   hint="pass --node NODE or --propagate none")


# ---- presence, traces, layers -------------------------------------------------------------------------------
def probe_presence(lm: Any, graph: StyleGraph, style_id: str, config: RunConfig) -> dict[str, Any]:
    """The presence probe (per marker edge, the log-prob gain after the style's subject over a neutral one)."""
    from ..evaluation.presence import probe_style
    from ..kg.material import style_material

    report = probe_style(lm, style_material(graph, style_id), threshold=config.presence_threshold,
                         n_samples=config.generations, seed=config.seed)
    return report.to_dict()


def trace_style(lm: Any, graph: StyleGraph, style_id: str, config: RunConfig, run_dir: Path) -> list[TraceSummary]:
    """Causal traces of the style (markers vs neutral forms) and of its first facts, with heat maps in ``traces/``."""
    from ..kg.material import style_material
    from ..tracing.params import TraceParams
    from ..tracing.plots import plot_trace
    from ..tracing.targets import style_target, top1_target
    from ..tracing.trace import trace

    out_dir = run_dir / "traces"
    out_dir.mkdir(exist_ok=True)
    params = TraceParams(samples=config.trace_samples, seed=config.seed)
    material = style_material(graph, style_id)
    markers, neutrals = material.trace_pairs()
    jobs = [("style", material.trace_prompts()[0], material.name, style_target(lm.tokenizer, markers, neutrals))]
    subject = graph.node(style_id).name
    for edge in graph.out_edges(style_id, EdgeType.FACT)[: config.trace_facts]:
        prompt = edge.template.format(subject)
        jobs.append(("fact", prompt, subject, top1_target(lm, prompt)))
    out = []
    for index, (kind, prompt, subj, target) in enumerate(jobs):
        result = trace(lm, prompt, subj, target, params)
        stem = out_dir / f"{index:02d}-{kind}"
        plot_trace(result, stem)
        atomic_write_text(stem.with_suffix(".json"), json.dumps(result.to_dict(), default=str))
        layer, token, value = result.peak("mlp")
        out.append(TraceSummary(f"{kind}: {prompt}", kind, prompt, f"traces/{stem.name}.png", f"traces/{stem.name}.svg",
                                int(layer), int(token), float(value), float(result.high), float(result.low)))
    return out


@dataclass
class LayerChoice(Record):
    selected: list[int]
    source: str  # config | trace
    configured: list[int] = field(default_factory=list)



def choose_layers(lm: Any, hparams: Any, config: RunConfig) -> LayerChoice:
    """The method's configured layers, or (``extra.layers_from_trace``) as many chosen by causal tracing."""
    configured = list(getattr(hparams, "layers", []))
    if not config.extra.get("layers_from_trace", False) or not configured:
        return LayerChoice(configured, "config")
    from ..tracing.params import TraceParams
    from ..tracing.select_layers import select_layers

    suggestion = select_layers(lm, params=TraceParams(samples=config.trace_samples, kinds=("mlp",)),
                               size=len(configured))
    return LayerChoice(list(suggestion.layers), "trace", configured)


def with_layers(hparams: Any, choice: LayerChoice) -> Any:
    if choice.selected and hasattr(hparams, "layers"):
        return dataclasses.replace(hparams, layers=tuple(int(x) for x in choice.selected))
    return hparams


# ---- requests -----------------------------------------------------------------------------------------------
def plan_requests(graph: StyleGraph, node_id: str, config: RunConfig) -> EditPlan:
    """What ``stylekg run`` edits (:func:`stylekg.kg.planner.plan` with the run's selection): the edited node's
    marker edges for an erase (all edges otherwise), the first ``max_markers`` of them, propagated from an abstract
    node as ``config.propagate`` says (a concrete node is edited alone), and two unrelated styles' markers."""
    from ..kg.planner import plan

    abstract = graph.node(node_id).type is NodeType.ABSTRACT_STYLE
    return plan(graph, node_id, mode=config.mode, propagate=config.propagate if abstract else Propagation.NONE,
                new_target=config.extra.get("new"), markers_only=None, max_markers=config.max_markers,
                n_unrelated=2, unrelated_edges=2)


def run_plan(graph: StyleGraph, config: RunConfig) -> EditPlan:
    """What ``stylekg run`` with ``config`` edits in ``graph``: :func:`plan_requests` of the node
    :func:`prepare_graph` picks (``stylekg kg requests --job run`` prints it)."""
    from ..kg.inheritance import resolve_style

    return plan_requests(graph, edited_node(graph, resolve_style(graph, config.style), config), config)


# ---- install and edit ---------------------------------------------------------------------------------------
@dataclass
class InstallOutcome(Record):
    """Whether the style's markers were installed before the erase, and how well (see :func:`install_markers`)."""

    installed: bool
    present_share: float
    held_before: float
    held_after: float | None = None
    verified: bool | None = None
    marker_logprob_gain: float | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    before: list[dict[str, Any]] = field(default_factory=list)
    after: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)



def install_markers(session: ModelSession, method: Method, hparams: Any, requests: list[EditRequest],
                    presence: dict[str, Any], config: RunConfig, delta: Path,
                    preserved: tuple[Preserved, ...] = ()) -> InstallOutcome:
    """Install the markers first when the presence probe shows the model holds too little of the style.

    Decision: fewer than half of the style's marker edges are present (presence gain ≥ threshold over a neutral
    subject). Verification: after the insert edit, each marker beats its neutral form on its own prompt (``held``)
    for at least 80% of the requests. The erase is then scored on the held edges.
    """
    lm = session.lm
    before = request_scores(lm, requests)
    present_share = presence.get("n_present", 0) / max(1, len(presence.get("markers", [])))
    base = InstallOutcome(False, present_share, _mean(s["holds"] for s in before))
    if config.mode != RequestKind.ERASE or present_share >= 0.5 or not config.install_if_absent:
        return base
    inserts = [r.with_(target_new=r.target_true, target_true=r.target_new, kind=RequestKind.INSERT,
                       case_id="install|" + r.case_id) for r in requests if r.target_new and r.target_true]
    result = session.edit(method, hparams, inserts, delta, preserved=preserved)
    after = request_scores(lm, requests)
    result.restore()  # re-applied from the delta file, the same way a resumed run does
    held_after = _mean(s["holds"] for s in after)
    return dataclasses.replace(
        base, installed=True, held_after=held_after, verified=held_after >= 0.8,
        marker_logprob_gain=_mean(a["marker_logprob"] - b["marker_logprob"] for a, b in zip(after, before)),
        requests=to_records(inserts), before=before, after=after, info=result.info)


@dataclass
class EditInfo(Record):
    params_changed: int
    info: dict[str, Any]



def apply_edit(session: ModelSession, method: Method, hparams: Any, requests: list[EditRequest],
               delta: Path, preserved: tuple[Preserved, ...] = ()) -> EditInfo:
    """The edit as one batch, keeping ``preserved`` (the plan's preserved set), saved as a delta file (and undone:
    the runner re-applies the file)."""
    result = session.edit(method, hparams, requests, delta, preserved=preserved)
    result.restore()
    return EditInfo(result.params_changed, result.info)


# ---- measurements -------------------------------------------------------------------------------------------
@dataclass
class Measurement(Record):
    """Per-request marker scores, CounterFact metrics and a few greedy generations, on the model as it is now."""

    scores: list[dict[str, Any]]
    unrelated: list[dict[str, Any]]
    counterfact: dict[str, Any]  # EditMetrics.as_dict() of the measured requests
    generations: dict[str, str]



def measure(lm: Any, plan: EditPlan, n_generations: int, greedy_tokens: int = 8) -> Measurement:
    """Teacher-forced scores of the plan's requests (and CounterFact's greedy checks over ``greedy_tokens``
    tokens: 0 when the run judges the style in generated answers instead, which saves most of this stage)."""
    from ..evaluation.counterfact import evaluate
    from ..lm.generation import generate

    requests = plan.measured
    report = (evaluate(lm, requests, generation_prompts=[], max_new_tokens=0, greedy_tokens=greedy_tokens)
              if requests else None)
    picks = _generation_prompts(requests, plan.unrelated, n_generations)
    texts = generate(lm, picks, max_new_tokens=16) if picks else []
    return Measurement(request_scores(lm, requests), request_scores(lm, plan.unrelated) if plan.unrelated else [],
                       report.summary.as_dict() if report else {}, dict(zip(picks, texts)))


def _generation_prompts(requests: list[EditRequest], unrelated: list[EditRequest], n: int) -> list[str]:
    seen: dict[str, str] = {}
    for r in [*requests, *unrelated]:
        seen.setdefault(r.subject_id or r.subject, r.text)
    return list(seen.values())[: max(n, 0)]


def style_row(graph: StyleGraph, style_id: str, role: str, metrics: dict[str, float]) -> StyleRow:
    """One style's row: log P(marker) and the share of held edges before/after; ``efficacy`` is the share of held
    edges the erase flipped (scored only where the model held the marker), ``drift`` the change's size."""
    metrics = {**metrics, "drift": abs(metrics["marker_logprob_delta"])}
    if role != "unrelated" and "erase_success" in metrics:
        metrics["efficacy"] = metrics["erase_success"]
    name = graph.node(style_id).name if style_id in graph else style_id
    return StyleRow(style_id, name, role, metrics["marker_logprob_before"], metrics["marker_logprob_after"],
                    metrics["held_before"], metrics["held_after"], metrics)


def style_rows(graph: StyleGraph, plan: EditPlan, before: Measurement, after: Measurement) -> list[StyleRow]:
    rows = [style_row(graph, sid, "edited" if sid == plan.node else "subclass", m)
            for sid, m in per_style(plan.measured, before.scores, after.scores).items()]
    if plan.unrelated:
        rows += [style_row(graph, sid, "unrelated", m)
                 for sid, m in per_style(plan.unrelated, before.unrelated, after.unrelated).items()]
    return rows


def summarize(run_id: str, created: str, config: RunConfig, graph: StyleGraph, info: GraphInfo,
              presence: dict[str, Any], traces: list[TraceSummary], layers: LayerChoice, plan: EditPlan,
              install: InstallOutcome, before: Measurement, after: Measurement, edit: EditInfo,
              hparams: Any) -> RunSummary:
    """Everything the run found, typed (cypher, timings and resumed stages are added after write-back)."""
    from ..run_summary import GenerationPair

    node = graph.node(info.node_id)
    return RunSummary(
        run_id=run_id, created=created, config=config.to_dict(), versions=versions(),
        graph={"name": info.name, "nodes": info.nodes, "edges": info.edges, "source": info.source},
        edited_node={"id": node.id, "name": node.name, "type": node.type.value}, presence=presence,
        install=install.to_dict() if install.installed else None, requests=to_records(plan.measured),
        metrics={"before": before.counterfact, "after": after.counterfact},
        styles=style_rows(graph, plan, before, after),
        generations=[GenerationPair(p, before.generations.get(p, ""), after.generations.get(p, ""))
                     for p in before.generations],
        traces=traces, layers=layers.to_dict(),
        edit={"method": config.method, "hparams": dataclasses.asdict(hparams), "params_changed": edit.params_changed},
    )


def _mean(values: Any) -> float:
    values = list(values)
    return float(sum(values) / len(values)) if values else 0.0
