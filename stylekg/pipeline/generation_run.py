"""The part of ``stylekg run`` that judges the style in what the model writes (runs with ``prompts`` set).

Before any edit the model answers the held-out prompts and each measured style's marker rate is taken in those
answers (presence in generation comes first). With ``edit_data = "occurrences"`` the edit trains on where the
model writes the markers in its answers to the *train* prompts; every edit passes a fluency guard on train
prompts; after the edit the held-out prompts are answered again. Teacher-forced numbers at the held-out
occurrences sit next to the generated ones.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..evaluation.generated_style import GenerationCache, Generations, generate
from ..evaluation.prompt_sets import PromptSet, load_prompt_set
from ..kg.graph import StyleGraph
from ..requests import Preserved
from ..run_summary import RunSummary, StyleRow
from . import generation_stages as gs
from .config import RunConfig
from ..lm.hooks import has_forward_hooks
from .weights_cache import cached_edit, weights_key
from .measure import request_scores
from .occurrences import context_requests, marker_contexts, plain_answer_items
from .session import ModelSession
from .stage_cache import StageCache


def judge_for(config: RunConfig):
    """The LLM judge of ``config.judge_model`` (None without one); its answers are cached by the client."""
    if not config.judge_model:
        return None
    from ..evaluation.generated_style import GenerationJudge
    from ..kg.llm import make_client

    return GenerationJudge(make_client("openai", config.judge_model))


class GenerationJudging:
    """Generation stages of one run, sharing its stage cache, model session and graph."""

    def __init__(self, config: RunConfig, cache: StageCache, session: ModelSession, graph: StyleGraph,
                 node_id: str, measured_ids: list[str], edge_ids: set[str | None]) -> None:
        self.config, self.cache, self.session, self.graph = config, cache, session, graph
        self.node_id = node_id
        # persona sets have {} for the style's name: the run's style
        from ..kg.inheritance import resolve_style

        style = graph.node(resolve_style(graph, config.style)).name if config.style else graph.node(node_id).name
        self.prompts: PromptSet = load_prompt_set(config.prompts).filled(style)
        self.settings = config.sampling()
        self.judge = judge_for(config)
        self.gcache = GenerationCache()
        self.materials = gs.style_materials(graph, list(dict.fromkeys([node_id, *measured_ids])))
        edited = self.materials.get(node_id)
        if edited is None:
            from ..errors import RunError

            raise RunError(f"{graph.node(node_id).name!r} has no markers to look for in generated text",
                           hint="add traits with markers to it (stylekg kg mine), or pick another --node")
        # the edit covers the planned edges (max_markers) of the edited node
        self.material = dataclasses.replace(edited, markers=tuple(m for m in edited.markers
                                                                  if m.edge_id in edge_ids or not edge_ids))
        self.key = [config.to_dict(), sorted(self.materials), self.prompts.name]

    # ---- stages ---------------------------------------------------------------------------------------------
    def before(self) -> gs.GenerationMeasure:
        classifier = gs.classifier_for(self.material, None, self.config.seed)
        return self.cache.run("gen_before", self.key, lambda: gs.measure_styles(
            self.session, self.materials, self.node_id, self.prompts, self.settings, classifier, None, self.gcache,
            judge=self.judge),
            gs.GenerationMeasure)

    def after(self, before: gs.GenerationMeasure, edit: Any) -> gs.GenerationMeasure:
        classifier = gs.classifier_for(self.material, None, self.config.seed)
        return self.cache.run("gen_after", [*self.key, edit.to_dict()], lambda: gs.measure_styles(
            self.session, self.materials, self.node_id, self.prompts, self.settings, classifier, before.known_facts,
            self.gcache, judge=self.judge), gs.GenerationMeasure)

    def edit(self, method: Any, hparams: Any, requests: list[Any], key: list[Any], delta: Path,
             preserved: tuple[Preserved, ...] = ()) -> gs.GuardedEdit:
        """The edit behind the fluency guard (occurrence requests when the edit trains on occurrences), keeping
        the plan's ``preserved`` set."""
        def run() -> gs.GuardedEdit:
            answers = generate(self.session.lm, self.prompts.split("train"), self.settings, cache=self.gcache)
            material, reqs = self.material, requests
            if self.config.edit_data == "occurrences":
                material, _ = gs.occurrence_material(self.session, self.material, self.prompts, self.settings,
                                                     self.gcache)
                reqs = context_requests(material.contexts, self.config.occurrence_subject)
            n = self.config.guard_prompts  # the unedited model's answers to the first train prompts
            guard = Generations(answers.prompts[:n], answers.samples[:n], answers.settings)
            return gs.guarded_edit(self.session, method, hparams, reqs, material, delta, guard, self.gcache,
                                   self.config.fluency_guard, self.config.repetition_guard,
                                   preserved=(*preserved, *self.plain_answers(answers)))

        def cached() -> gs.GuardedEdit:  # across run directories: a warm demo reads the delta (weights_cache.py)
            c = self.config
            if not method.edits_weights or has_forward_hooks(self.session.lm.model):  # a hook, not a weight delta
                return run()
            parts = [c.method, dataclasses.asdict(hparams), [dataclasses.asdict(r) for r in requests],
                     dataclasses.asdict(self.material), self.prompts.split("train"), dataclasses.asdict(self.settings),
                     c.edit_data, c.occurrence_subject, c.guard_prompts, c.fluency_guard, c.repetition_guard, c.seed,
                     [p.to_json() for p in preserved]]
            return gs.GuardedEdit.from_dict(cached_edit(weights_key(self.session.lm.model, parts), delta,
                                                        lambda: run().to_dict()))

        return self.cache.run("edit", [*key, self.key], cached, gs.GuardedEdit, files=[delta])

    def plain_answers(self, answers: Generations) -> tuple[Any, ...]:
        """The unedited model's own answers to the train prompts (``answers``), cut at the edited style's markers,
        as the edit's preserved set (:func:`.occurrences.plain_answer_items`); held-out answers never enter it."""
        train = set(self.prompts.split("train"))
        if not set(answers.prompts) <= train:
            from ..errors import RunError

            raise RunError("the preserved plain answers must answer train prompts only",
                           hint="build them from the train split's answers")
        return plain_answer_items(self.session.lm.tokenizer, self.material, answers)

    def teacher_forced(self, name: str, key: list[Any]) -> dict[str, float]:
        """Teacher-forced P(marker) against P(neutral) at the held-out occurrences the unedited model wrote."""
        def run() -> dict[str, float]:
            answers = generate(self.session.lm, self.prompts.split("heldout"), self.settings, cache=self.gcache)
            contexts = [c for c in marker_contexts(self.session.lm.tokenizer, self.material, answers) if c.neutral]
            if not contexts:
                return {"n": 0.0}
            scores = request_scores(self.session.lm, context_requests(contexts, self.config.occurrence_subject))
            return {"n": float(len(scores)), "held": sum(s["holds"] for s in scores) / len(scores),
                    "marker_logprob": sum(s["marker_logprob"] for s in scores) / len(scores)}

        return self.cache.run(name, [*key, self.key], run)

    def answers(self, name: str, key: list[Any]) -> Generations:
        """The held-out answers of the model as it is now (read from the generation cache: the measure stage made
        them), kept in the run's stage cache for the audit."""
        return self.cache.run(name, [*key, self.key], lambda: generate(
            self.session.lm, self.prompts.split("heldout"), self.settings, cache=self.gcache), Generations)

    def audit_styles(self, plan: Any) -> list[tuple[str, str]]:
        """(style id, role) of every measured style, the edited node first."""
        subclasses = set(plan.subclasses)
        return [(sid, "edited" if sid == self.node_id else "subclass" if sid in subclasses else "unrelated")
                for sid in self.materials]

    def teacher_forced_nodes(self, name: str, key: list[Any], plan: Any, answers: Generations) -> dict[str, Any]:
        """Per audited marker, teacher-forced at the held-out places the unedited model wrote it (``answers``)."""
        from .effects_stage import audited_markers, teacher_forced_markers

        return self.cache.run(name, [*key, self.key], lambda: teacher_forced_markers(
            self.session.lm, audited_markers(self.graph, self.audit_styles(plan)), answers,
            self.config.occurrence_subject))

    def effects(self, plan: Any, before: Generations, edit: Any, tf_before: dict[str, Any]) -> Any:
        """The audit (``pipeline/effects_stage.py``): every measured node's own markers, traits, neutral forms and
        the frequent n-grams, before against after, on the held-out answers of each node's family."""
        from .effects_stage import EffectsReport, audit, edited_nodes

        after = self.answers("answers_after", [plan.to_dict(), edit.to_dict()])
        styles = self.audit_styles(plan)
        tf_after = self.teacher_forced_nodes("tf_nodes_after", [plan.to_dict(), edit.to_dict()], plan, before)
        edited = edited_nodes(self.graph, self.node_id, plan.requests)
        return self.cache.run("effects", [plan.to_dict(), edit.to_dict(), self.key], lambda: audit(
            self.graph, edited, styles, self.prompts, before, after, propagate=self.config.propagate,
            seed=self.config.seed, teacher_forced={"before": tf_before, "after": tf_after}), EffectsReport)

    # ---- summary --------------------------------------------------------------------------------------------
    def add_to(self, summary: RunSummary, before: gs.GenerationMeasure, after: gs.GenerationMeasure,
               edit: gs.GuardedEdit, tf_before: dict[str, float], tf_after: dict[str, float]) -> None:
        """Generated marker rates on every style row (metric names ``gen_marker_rate_before`` / ``_after`` and
        their interval ends), and the ``generation`` section of the summary."""
        rows = {r.node_id: r for r in summary.styles}
        for sid in self.materials:
            row = rows.get(sid)
            if row is None:
                role = "edited" if sid == self.node_id else ("unrelated" if sid in self._unrelated(summary)
                                                              else "subclass")
                row = StyleRow(sid, self.graph.node(sid).name, role)
                summary.styles.append(row)
            for when, measure in (("before", before), ("after", after)):
                rate = measure.rates[sid]
                row.metrics.update({f"gen_marker_rate_{when}": rate["per_1k"], f"gen_marker_rate_low_{when}": rate["low"],
                                    f"gen_marker_rate_high_{when}": rate["high"]})
            b, a = row.metrics["gen_marker_rate_before"], row.metrics["gen_marker_rate_after"]
            row.metrics["gen_marker_rate_delta"] = a - b
            row.metrics["gen_marker_rate_reduction"] = (b - a) / b if b > 0 else 0.0  # the graph is coloured by it
            row.metrics["gen_intervals_overlap"] = float(_overlap(before.rates[sid], after.rates[sid]))
        summary.generation = {
            "prompts": self.prompts.name, "split": "heldout", "n_prompts": len(self.prompts.heldout),
            "settings": before.settings, "edit_data": self.config.edit_data,
            "rates": {sid: {"before": before.rates[sid], "after": after.rates[sid]} for sid in self.materials},
            "fluency": {"before": before.fluency, "after": after.fluency},
            "teacher_forced_heldout": {"before": tf_before, "after": tf_after},
            "guard": edit.verdicts, "edit_hparams": edit.hparams,
            "examples": [[p, b, a] for (p, b), (_, a) in zip(before.examples, after.examples)],
        }

    def _unrelated(self, summary: RunSummary) -> set[str]:
        return {r.node_id for r in summary.styles if r.role == "unrelated"}


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["low"] <= b["high"] and b["low"] <= a["high"]
