"""Choose penalty-ft's ``retain_weight`` for the demo's erase on TRAIN prompts only (held-out prompts untouched).

Protocol: the demo's settings (stylekg/configs/demo.toml: SmolLM2-135M-Instruct, greedy, <= 96 new tokens) and
its edited node (the abstract parent *Formulaic register*, every marker). The 72 train prompts of
``assistant-instructions`` are split into ``--folds`` folds with a fixed seed; for each fold the erase trains on the
other folds' answers (marker contexts, plain answers for the CE term, and — with ``retain_weight`` > 0 — the same
answers, cut at the markers, as the preserved set) and is judged on the fold's prompts: markers per 1,000 generated
tokens (95% bootstrap interval over prompts), looping answers (a word 4-gram three times or more), perplexity of the
answers under the unedited model. Folds are pooled. Run:

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 nice -n 5 python scripts/tune_retain.py --weights 0,1,3 > /tmp/tune.log
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path

import stylekg

from stylekg.editing.context import EditContext
from stylekg.editing.hparams_files import load_method
from stylekg.evaluation.generated_style import (
    GenerationCache, Generations, generate, marker_rate, marker_variants, perplexity, repetition_rate,
)
from stylekg.evaluation.prompt_sets import load_prompt_set
from stylekg.kg.library import load_library
from stylekg.kg.material import style_material
from stylekg.lm import load_model
from stylekg.pipeline.config import RunConfig
from stylekg.pipeline.occurrences import context_requests, plain_answer_items, with_occurrences


def _subset(gens: Generations, keep: list[int]) -> Generations:
    return Generations(tuple(gens.prompts[i] for i in keep), tuple(gens.samples[i] for i in keep), gens.settings)


def _pooled(parts: list[Generations]) -> Generations:
    return Generations(tuple(p for g in parts for p in g.prompts), tuple(s for g in parts for s in g.samples),
                       parts[0].settings)


def _report(name: str, gens: Generations, variants, lm) -> dict:
    rate = marker_rate(gens, variants, seed=0)
    loops = round(repetition_rate(gens.texts()) * len(gens.prompts))
    row = {"per_1k": round(rate.per_1k, 2), "low": round(rate.low, 2), "high": round(rate.high, 2),
           "looping": f"{loops}/{len(gens.prompts)}", "ppl": round(perplexity(lm, gens), 3)}
    print(json.dumps({name: row}), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="0,1,3")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--only-folds", default="", help="comma-separated fold indexes to run (default all)")
    ap.add_argument("--node", default="Formulaic register")
    ap.add_argument("--hparams", default="smollm2-135m-voice")
    args = ap.parse_args()
    cfg = RunConfig.from_toml(Path(stylekg.__file__).parent / "configs" / "demo.toml")
    settings = cfg.sampling()
    lm = load_model(cfg.model)
    tok = lm.tokenizer
    material = style_material(load_library(), args.node)
    variants = marker_variants(material.markers)
    train = list(load_prompt_set(cfg.prompts).train)
    cache = GenerationCache()
    answers = generate(lm, train, settings, cache=cache)  # the unedited model's answers (the demo reuses them)
    order = list(range(len(train)))
    random.Random(0).shuffle(order)
    folds = [sorted(order[f::args.folds]) for f in range(args.folds)]
    only = [int(x) for x in args.only_folds.split(",")] if args.only_folds else list(range(args.folds))
    weights = [float(w) for w in args.weights.split(",")]
    judged: dict[str, list[Generations]] = {"unedited": []}
    for w in weights:
        judged[f"retain {w:g}"] = []
    for f in only:
        fold = folds[f]
        fit = [i for i in range(len(train)) if i not in fold]
        fit_answers, fold_answers = _subset(answers, fit), _subset(answers, fold)
        judged["unedited"].append(fold_answers)
        enriched = with_occurrences(material, tok, fit_answers)
        requests = context_requests(enriched.contexts, cfg.occurrence_subject)
        preserved = plain_answer_items(tok, material, fit_answers)
        for w in weights:
            method, hparams = load_method("penalty-ft", args.hparams, retain_weight=w)
            started = time.perf_counter()
            result = method.apply(lm.model, tok, requests, hparams, EditContext(material=enriched, preserved=preserved))
            seconds = time.perf_counter() - started
            try:
                after = generate(lm, fold_answers.prompts, settings, cache=cache)
            finally:
                result.restore()
            judged[f"retain {w:g}"].append(after)
            _report(f"fold {f}, retain {w:g}", after, variants, lm)
            print(json.dumps({"fold": f, "retain_weight": w, "n_preserved": len(preserved),
                              "n_contexts": len(enriched.contexts), "edit_s": round(seconds, 1),
                              "history_last": result.info["history"][-1]}), flush=True)
    rows = {}
    for name, parts in judged.items():
        rows[name] = _report(name, _pooled(parts), variants, lm)
    print(json.dumps({"settings": dataclasses.asdict(settings), "folds": only, "rows": rows}))


if __name__ == "__main__":
    main()
