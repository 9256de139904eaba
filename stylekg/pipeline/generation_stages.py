"""The stages that judge a style in the text the model writes (``stylekg run`` with a prompt set).

* :func:`measure_styles`: held-out answers of the model as it is now, and for each measured style (the edited
  node, its subclasses, unrelated styles) the marker rate in them with its bootstrap interval; fluency
  (perplexity under the *unedited* model, distinct-2, repetition), facts kept and the style classifier;
* :func:`occurrence_material`: the edited node's material plus where the model writes its markers in its answers
  to the *train* prompts (what an occurrence-driven erase trains on);
* :func:`fluency_guard`: after an edit, answers to a few train prompts must stay within the allowed perplexity
  and repetition of the unedited model's, or the edit is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import RunError
from ..evaluation.generated_style import (
    GREEDY,
    GenerationJudge,
    ClassifierFit,
    GenerationCache,
    Generations,
    SamplingSettings,
    StyleInGeneration,
    facts_top1,
    fit_classifier,
    generate,
    load_facts,
    measure,
    perplexity,
    repetition_rate,
)
from ..evaluation.prompt_sets import PromptSet
from ..kg.graph import StyleGraph
from ..material import StyleMaterial
from ..requests import Preserved
from ..run_summary import Record
from .session import ModelSession


@dataclass
class GenerationMeasure(Record):
    """Per style, what its markers do in the held-out answers; plus the answers' fluency and facts kept."""

    rates: dict[str, dict[str, Any]]  # style id → RateEstimate as a dict
    fluency: dict[str, float]  # gen_fluency_ppl, gen_distinct_2, gen_repetition, gen_facts_kept, classifier numbers
    examples: list[list[str]]  # [prompt, answer] for the first answers
    settings: dict[str, Any] = field(default_factory=dict)
    known_facts: list[int] = field(default_factory=list)  # indexes of the facts the unedited model knows


def style_materials(graph: StyleGraph, style_ids: list[str]) -> dict[str, StyleMaterial]:
    """Each measured style's material (own and inherited markers); styles without markers are left out."""
    from ..kg.material import style_material

    out = {}
    for sid in style_ids:
        material = style_material(graph, sid)
        if any(not m.is_neutral for m in material.markers):
            out[sid] = material
    return out


def unedited_perplexity(session: ModelSession, gens: Generations) -> float:
    """Perplexity of ``gens`` under the unedited model: applied edits are lifted for the scoring, then put back."""
    applied = list(session.applied)
    for path in reversed(applied):
        session.applied[path].restore()
    try:
        return perplexity(session.lm, gens)
    finally:
        for path in applied:
            del session.applied[path]
            session.reapply(path)


def measure_styles(session: ModelSession, materials: dict[str, StyleMaterial], edited_id: str, prompts: PromptSet,
                   settings: SamplingSettings, classifier: ClassifierFit | None, known: list[int] | None,
                   cache: GenerationCache, judge: GenerationJudge | None = None) -> GenerationMeasure:
    """Generate held-out answers once and measure every style's markers in them (see module doc); ``judge``
    rates the edited style's answers."""
    lm = session.lm
    gens = generate(lm, prompts.split("heldout"), settings, cache=cache)
    facts = load_facts()
    if known is None:  # the facts the unedited model gets right: the capability set
        known = [i for i, ok in enumerate(facts_top1(lm, facts)) if ok]
    rates, report = {}, None
    for sid, material in materials.items():
        with_cls = classifier if sid == edited_id else None
        result: StyleInGeneration = measure(lm, material, gens.prompts, settings, generations=gens,
                                            classifier=with_cls, seed=settings.seed,
                                            judge=judge if sid == edited_id else None)
        rates[sid] = dataclasses.asdict(result.marker_rate)
        if sid == edited_id:
            report = result
    fluency = {"gen_fluency_ppl": unedited_perplexity(session, gens), "gen_facts_kept":
               (sum(facts_top1(lm, [facts[i] for i in known])) / len(known)) if known else float("nan")}
    if report is not None:
        fluency.update({k: v for k, v in report.metrics().items() if not k.startswith("gen_marker_rate")})
    return GenerationMeasure(rates, fluency, [list(p) for p in gens.pairs()[:3]], dataclasses.asdict(settings), known)


def classifier_for(material: StyleMaterial, train_answers: Generations | None, seed: int) -> ClassifierFit | None:
    """The style classifier of the edited node: its example texts and its answers' marker sentences against the
    neutral texts; ``None`` (reported) when there are too few of either."""
    from ..errors import ClassifierError

    try:
        return fit_classifier(material, seed=seed)
    except ClassifierError:
        return None


def occurrence_material(session: ModelSession, material: StyleMaterial, prompts: PromptSet,
                        settings: SamplingSettings, cache: GenerationCache) -> tuple[StyleMaterial, Generations]:
    """The material with the model's own contexts of its markers in its answers to the train prompts."""
    from .occurrences import with_occurrences

    answers = generate(session.lm, prompts.split("train"), settings, cache=cache)
    enriched = with_occurrences(material, session.lm.tokenizer, answers)
    if not enriched.contexts:
        raise RunError(f"the model writes none of the {len(material.markers)} markers of {material.style!r} in its "
                       f"answers to the {len(answers.prompts)} train prompts", hint="there is nothing to erase")
    return enriched, answers


@dataclass
class GuardVerdict(Record):
    passed: bool
    ppl_before: float
    ppl_after: float
    repetition_before: float
    repetition_after: float
    max_ppl_increase: float
    max_repetition_increase: float

    def reason(self) -> str:
        return (f"perplexity {self.ppl_before:.2f} → {self.ppl_after:.2f} (allowed +{self.max_ppl_increase:.0%}), "
                f"repetition {self.repetition_before:.2f} → {self.repetition_after:.2f} "
                f"(allowed +{self.max_repetition_increase:.2f})")


def fluency_guard(session: ModelSession, before: Generations, after: Generations, max_ppl_increase: float,
                  max_repetition_increase: float) -> GuardVerdict:
    """The edited model's answers to the guard prompts against the unedited model's answers to them."""
    ppl_b, ppl_a = unedited_perplexity(session, before), unedited_perplexity(session, after)
    rep_b, rep_a = repetition_rate(before.texts()), repetition_rate(after.texts())
    passed = ppl_a <= ppl_b * (1 + max_ppl_increase) and rep_a <= rep_b + max_repetition_increase
    return GuardVerdict(passed, ppl_b, ppl_a, rep_b, rep_a, max_ppl_increase, max_repetition_increase)


def weaker(hparams: Any) -> Any | None:
    """The same method, half as strong (half the learning rate, or half the steering strength); None if it has no
    such knob."""
    for knob in ("lr", "strength", "alpha", "lam"):
        value = getattr(hparams, knob, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            return dataclasses.replace(hparams, **{knob: value / 2})
    return None


@dataclass
class GuardedEdit(Record):
    """The edit that passed the fluency guard (its delta file is saved), with every attempt's verdict."""

    params_changed: int
    info: dict[str, Any]
    hparams: dict[str, Any]
    verdicts: list[dict[str, Any]]


def guarded_edit(session: ModelSession, method: Any, hparams: Any, requests: list[Any], material: StyleMaterial,
                 delta: Any, before: Generations, cache: GenerationCache, max_ppl_increase: float,
                 max_repetition_increase: float, attempts: int = 3,
                 preserved: tuple[Preserved, ...] = ()) -> GuardedEdit:
    """Edit, then check fluency on train prompts (``before``: the unedited model's answers to them); weaken and
    retry when the text breaks; refuse after ``attempts``. ``preserved`` goes on the method's context (what a
    retain loss keeps; built from train prompts only).

    A lower marker rate bought with broken text is not an erase: the held-out prompts are never used here.
    """
    guard_prompts, settings = before.prompts, before.settings
    verdicts = []
    for _ in range(max(1, attempts)):
        result = session.edit(method, hparams, requests, delta, material=material, preserved=preserved)
        after = generate(session.lm, guard_prompts, settings, cache=cache)
        result.restore()
        verdict = fluency_guard(session, before, after, max_ppl_increase, max_repetition_increase)
        verdicts.append(verdict.to_dict())
        if verdict.passed:
            return GuardedEdit(result.params_changed, {k: v for k, v in result.info.items() if k != "history"},
                               dataclasses.asdict(hparams), verdicts)
        delta.unlink(missing_ok=True)
        hparams = weaker(hparams)
        if hparams is None:
            break
    raise RunError(f"the fluency guard refused the edit: {GuardVerdict(**verdicts[-1]).reason()}",
                   hint="lower the method's learning rate or steps in its config, or raise fluency_guard")


__all__ = ["GREEDY", "GenerationMeasure", "GuardVerdict", "GuardedEdit", "classifier_for", "fluency_guard",
           "guarded_edit", "measure_styles", "occurrence_material", "style_materials", "unedited_perplexity", "weaker"]
