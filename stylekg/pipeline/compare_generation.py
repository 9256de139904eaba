"""The generation columns of ``stylekg compare``, and its two baselines that change no weight differently.

* :class:`GenerationColumns`: each method's held-out answers and the style in them — marker rate with its interval,
  classifier probability (its held-out accuracy beside it), perplexity under the unedited model, distinct-2,
  repetition, facts kept;
* **prompting** (AxBench: plain prompting beats representation steering): the unedited model, told in a system
  message to avoid the style;
* **steering with a strength search**: on *train* prompts, the strength that lowers the marker rate most while the
  answers' perplexity under the unedited model stays within +20% (held-out prompts only judge the choice).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from ..evaluation.generated_style import (
    ClassifierFit,
    GenerationCache,
    SamplingSettings,
    distinct_n,
    facts_top1,
    fit_classifier,
    generate,
    load_facts,
    marker_rate,
    marker_variants,
    perplexity,
    repetition_rate,
)
from ..evaluation.prompt_sets import PromptSet
from ..material import StyleMaterial

PLAIN_INSTRUCTION = "Answer plainly: no filler, no flattery, no flowery or grand words."
STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0)


class GenerationColumns:
    """Measures a (possibly edited) model's held-out answers for one style; the unedited model is kept aside."""

    def __init__(self, lm: Any, material: StyleMaterial, prompts: PromptSet, settings: SamplingSettings,
                 cache: GenerationCache, seed: int = 0) -> None:
        self.material, self.settings, self.cache, self.seed = material, settings, cache, seed
        prompts = prompts.filled(material.name)  # persona sets have {} for the style's name
        self.heldout = prompts.split("heldout")
        self.train = prompts.split("train")
        self.variants = marker_variants(material.require_markers())
        self.reference = dataclasses.replace(lm, model=copy.deepcopy(lm.model))  # perplexity of the unedited model
        facts = load_facts()
        self.facts = [f for f, ok in zip(facts, facts_top1(lm, facts)) if ok]
        try:
            self.classifier: ClassifierFit | None = fit_classifier(material, seed=seed)
        except Exception:  # too few example texts: reported as a missing column, never a guess
            self.classifier = None

    def __call__(self, lm: Any, system: str | None = None, prompts: tuple[str, ...] | None = None) -> dict[str, float]:
        settings = dataclasses.replace(self.settings, system=system) if system else self.settings
        gens = generate(lm, prompts or self.heldout, settings, cache=self.cache)
        texts = gens.texts()
        rate = marker_rate(gens, self.variants, seed=self.seed)
        out = {"gen_marker_rate": rate.per_1k, "gen_marker_rate_low": rate.low, "gen_marker_rate_high": rate.high,
               "gen_fluency_ppl": perplexity(self.reference, gens), "gen_distinct_2": distinct_n(texts, 2),
               "gen_repetition": repetition_rate(texts)}
        if self.facts:
            out["gen_facts_kept"] = sum(facts_top1(lm, self.facts)) / len(self.facts)
        if self.classifier is not None:
            out["gen_style_probability"] = self.classifier.classifier.strength(texts, self.material.style)
            out["gen_classifier_accuracy"] = self.classifier.heldout_accuracy
        return out


def steering_search(lm: Any, method: Any, hparams: Any, requests: list[Any], context: Any,
                    columns: GenerationColumns, strengths: tuple[float, ...] = STRENGTHS,
                    max_ppl_increase: float = 0.2, n_prompts: int = 16) -> tuple[Any, list[dict[str, float]]]:
    """The steering strength (away from the style: negative) that lowers the train prompts' marker rate most while
    their perplexity under the unedited model stays within ``max_ppl_increase``; with every strength's numbers."""
    train = columns.train[:n_prompts]
    base = columns(lm, prompts=train)
    table, best = [], None
    for s in strengths:
        trial = dataclasses.replace(hparams, strength=-abs(s))
        result = method.apply(lm.model, lm.tokenizer, requests, trial, context)
        try:
            got = columns(lm, prompts=train)
        finally:
            result.restore()
        ok = got["gen_fluency_ppl"] <= base["gen_fluency_ppl"] * (1 + max_ppl_increase)
        table.append({"strength": -abs(s), "gen_marker_rate": got["gen_marker_rate"],
                      "gen_fluency_ppl": got["gen_fluency_ppl"], "fluent": float(ok)})
        if ok and (best is None or got["gen_marker_rate"] < best[1]):
            best = (trial, got["gen_marker_rate"])
    table.insert(0, {"strength": 0.0, "gen_marker_rate": base["gen_marker_rate"],
                     "gen_fluency_ppl": base["gen_fluency_ppl"], "fluent": 1.0})
    return (best[0] if best else dataclasses.replace(hparams, strength=0.0)), table
