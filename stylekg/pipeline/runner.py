"""``stylekg run``: graph → store → presence probe → trace → layers → requests → (install) → erase → evaluate
→ write back → report. Each stage's output is cached in the run directory, so a re-run resumes.

The stages are public functions (:mod:`.stages`); this module only runs them in order through the stage cache.
Edits happen in memory only; their deltas are saved in the run directory and re-applied on resume. Nothing is
written to the store before the write-back stage, which is one transaction per run node.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..editing.hparams_files import hparams_file, hparams_hash, load_method
from ..kg.graph import StyleGraph
from ..kg.schema import slug
from ..paths import atomic_write_text
from ..run_summary import RunSummary, TraceSummary
from . import stages
from .config import RunConfig
from .preflight import check_run
from .run_lock import RunLock
from .session import ModelSession
from .stage_cache import StageCache
from .writeback import WriteBack, write_back

log = logging.getLogger(__name__)
Event = Callable[[str, str], None]


@dataclass
class RunOutcome:
    run_id: str
    run_dir: Path
    summary: RunSummary
    report_html: Path | None
    report_md: Path | None


def run_id_for(config: RunConfig) -> str:
    return f"{slug(config.style or config.auto)[:40]}-{config.key}"


def finish(run_dir: Path, summary: RunSummary, cache: StageCache, graph: StyleGraph | None) -> RunOutcome:
    """Add timings, write ``summary.json`` and the report: the last step of every job."""
    from ..views.report import write_report

    summary.timings, summary.resumed = cache.timings, cache.resumed
    atomic_write_text(run_dir / "summary.json", json.dumps(summary.to_dict(), indent=2, default=str))
    html, md = write_report(run_dir, summary, graph)
    return RunOutcome(summary.run_id, run_dir, summary, html, md)


def _measured(session: ModelSession, plan: stages.EditPlan, cfg: RunConfig) -> stages.Measurement:
    """The teacher-forced measurement of ``plan`` on the model as it is now, read from the weights-keyed cache
    when the same weights measured the same plan before (a warm demo in a fresh run directory)."""
    from .weights_cache import cached_value, weights_key

    from ..lm.hooks import has_forward_hooks

    greedy = 0 if cfg.prompts else 8  # a run judged in generated answers skips CounterFact's greedy checks
    if has_forward_hooks(session.lm.model):  # a live steering hook: the weights do not say it all
        return stages.measure(session.lm, plan, cfg.generations, greedy)
    key = weights_key(session.lm.model, ["measure", plan.to_dict(), cfg.generations, greedy])
    return stages.Measurement.from_dict(cached_value(
        "measurements", key, lambda: stages.measure(session.lm, plan, cfg.generations, greedy).to_dict(),
        stages.Measurement.from_dict))


class Pipeline:
    """One run of the main job; ``run()`` executes (or resumes) every stage."""

    def _generation_judging(self, graph: StyleGraph, info: stages.GraphInfo, plan: stages.EditPlan) -> Any:
        from .generation_run import GenerationJudging

        measured = [*plan.subclasses, *dict.fromkeys(r.subject_id for r in plan.unrelated)]
        return GenerationJudging(self.config, self.stages, self.session, graph, info.node_id,
                                 [m for m in measured if m], {r.edge_id for r in plan.requests})

    def __init__(self, config: RunConfig, *, on_event: Event | None = None, run_dir: Path | None = None) -> None:
        self.config = config
        self.run_id = run_id_for(config)
        self.run_dir = Path(run_dir or Path(config.runs_dir) / self.run_id)  # made by run(), after its checks
        self.stages = StageCache(self.run_dir, on_event)
        self.session = ModelSession(config.model, config.device, config.dtype)

    def run(self) -> RunOutcome:
        check_run(self.config)  # style, model and method are known before anything is written
        with RunLock(self.run_dir):  # a second process on this run directory stops with the holder's PID
            return self._run_stages()

    def _run_stages(self) -> RunOutcome:
        cfg, cache, session, run_dir = self.config, self.stages, self.session, self.run_dir
        atomic_write_text(run_dir / "config.toml", cfg.to_toml())
        info = cache.run("graph", cfg.to_dict(), lambda: stages.prepare_graph(cfg, run_dir), stages.GraphInfo,
                         files=[run_dir / "graph.json"])
        graph = stages.load_run_graph(run_dir)
        method, hparams = load_method(cfg.method, cfg.model, hparams_file(cfg.hparams) if cfg.hparams else None)
        presence = cache.run("presence", [cfg.model, info.style_id, cfg.presence_threshold, cfg.generations, cfg.seed],
                             lambda: stages.probe_presence(session.lm, graph, info.style_id, cfg))
        traces = cache.run("trace", [cfg.model, info.style_id, cfg.trace_samples, cfg.trace_facts, cfg.seed],
                           lambda: stages.trace_style(session.lm, graph, info.style_id, cfg, run_dir), TraceSummary)
        layers = cache.run("layers", [cfg.model, cfg.method, list(getattr(hparams, "layers", []))],
                           lambda: stages.choose_layers(session.lm, hparams, cfg), stages.LayerChoice)
        hparams = stages.with_layers(hparams, layers)
        plan = cache.run("requests", [cfg.to_dict(), info.to_dict()],
                         lambda: stages.plan_requests(graph, info.node_id, cfg), stages.EditPlan)
        plan_key = plan.to_dict()
        judge = self._generation_judging(graph, info, plan) if cfg.prompts else None
        gen_before = judge.before() if judge else None  # presence in generation comes first
        tf_before = judge.teacher_forced("tf_before", [plan_key]) if judge else None
        answers_before = judge.answers("answers_before", [plan_key]) if judge else None
        tf_nodes = judge.teacher_forced_nodes("tf_nodes_before", [plan_key], plan, answers_before) if judge else None
        install = cache.run("install", [cfg.to_dict(), hparams_hash(hparams), plan_key],
                            lambda: stages.install_markers(session, method, hparams, plan.measured, presence, cfg,
                                                           run_dir / "install.safetensors", plan.preserved),
                            stages.InstallOutcome,
                            files=[run_dir / "install.safetensors"])
        session.reapply(run_dir / "install.safetensors")
        before = cache.run("before", [cfg.to_dict(), install.to_dict(), plan_key],
                           lambda: _measured(session, plan, cfg), stages.Measurement)
        edit_key = [cfg.to_dict(), hparams_hash(hparams), plan_key, install.to_dict()]
        delta = run_dir / "edit.safetensors"
        edit = (judge.edit(method, hparams, plan.requests, edit_key, delta, plan.preserved) if judge else
                cache.run("edit", edit_key, lambda: stages.apply_edit(session, method, hparams, plan.requests, delta,
                                                                      plan.preserved), stages.EditInfo, files=[delta]))
        session.reapply(delta)
        after = cache.run("after", [cfg.to_dict(), edit.to_dict(), plan_key],
                          lambda: _measured(session, plan, cfg), stages.Measurement)
        created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        summary = stages.summarize(self.run_id, created, cfg, graph, info, presence, traces, layers, plan, install,
                                   before, after, edit, hparams)
        if judge is not None and gen_before is not None and tf_before is not None:
            judge.add_to(summary, gen_before, judge.after(gen_before, edit), edit, tf_before,
                         judge.teacher_forced("tf_after", [plan_key, edit.to_dict()]))
            summary.effects = judge.effects(plan, answers_before, edit, tf_nodes).to_dict()
        written = cache.run("writeback", [summary.run_id, cfg.store],
                            lambda: write_back(cfg, graph, run_dir, summary, info.node_id, info.style_id,
                                               hparams_hash(hparams)), WriteBack)
        summary.cypher, summary.graph_html = written.cypher, written.graph_html
        return finish(run_dir, summary, cache, graph)
