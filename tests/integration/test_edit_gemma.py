"""Gemma 3 270M (sliding-window attention, per-layer-type rotary tables, a norm after down_proj), slow.

* fast causal tracing equals the reference procedure on Gemma 3;
* ROME and MEMIT, with the shipped configs, flip facts the model knows (from its probed fact set,
  ``stylekg/data/facts/counterfact_gemma3-270m.jsonl``) and keep neighbouring facts.

Statistics (100k tokens) are cached under ``$STYLEKG_HOME/stats`` by content, so only the first run pays.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from stylekg.editing import EditContext
from stylekg.editing.hparams_files import load_method
from stylekg.editing.requests_io import read_requests
from stylekg.editing.stats import key_second_moments
from stylekg.evaluation.counterfact import evaluate
from stylekg.lm.tokens import encode
from stylekg.tracing import TraceParams, make_target, naive_trace, trace

pytestmark = pytest.mark.slow

FACTS = Path(__file__).resolve().parents[2] / "stylekg" / "data" / "facts" / "counterfact_gemma3-270m.jsonl"


@pytest.fixture(scope="module")
def gemma():
    from stylekg.lm import load_model

    home = os.environ.get("STYLEKG_HOME")
    with pytest.MonkeyPatch.context() as mp:
        if home:
            mp.setenv("STYLEKG_HOME", home)
        return load_model("gemma3-270m")


@pytest.fixture(scope="module")
def facts():
    return read_requests(FACTS)


def test_fast_trace_equals_the_reference_on_gemma(gemma, facts) -> None:
    request = facts[0]
    prompt, subject, answer = request.text, request.subject, request.target_true
    target = make_target(gemma.tokenizer, answer)
    last = encode(gemma.tokenizer, prompt, subject).subject_span[1] - 1
    params = TraceParams(samples=3, kinds=("mlp", "attn"))
    fast = trace(gemma, prompt, subject, target, params, tokens=[last, -1])
    slow = naive_trace(gemma, prompt, subject, target, params, tokens=[last, -1])
    for kind in ("mlp", "attn"):
        rows = [last, fast.scores[kind].shape[0] - 1]
        assert np.max(np.abs(fast.scores[kind][rows] - slow.scores[kind][rows])) <= 1e-4, kind


GOALS = {"efficacy_top1": 0.9, "paraphrase_score": 0.5, "neighbours_kept": 0.85}  # issue 13's bar on Gemma 3


def _check(gemma, method: str, requests, baseline, floors: dict[str, float]) -> None:
    """``floors``: what the shipped config measured here (a regression fails); :data:`GOALS` not yet reached are
    reported as an expected failure with the numbers, and the test passes once they are."""
    m, hp = load_method(method, "gemma3-270m")
    layers = list(getattr(hp, "layers", None) or [hp.layer])
    stats = key_second_moments(gemma.model, gemma.tokenizer, layers, samples=hp.stats_samples)
    before = {k: v.clone() for k, v in gemma.model.named_parameters() if "down_proj" in k}
    result = m.apply(gemma.model, gemma.tokenizer, requests, hp, EditContext(stats=stats))
    try:
        after = evaluate(gemma, requests, baseline=baseline).summary
    finally:
        result.restore()
    assert all(torch.equal(p, before[k]) for k, p in gemma.model.named_parameters() if k in before)
    for name, floor in floors.items():
        assert getattr(after, name) >= floor, (name, after)
    missed = {k: round(getattr(after, k), 2) for k, goal in GOALS.items() if getattr(after, k) < goal}
    if missed:
        pytest.xfail(f"{method} on Gemma 3 270M below issue 13's goals {GOALS}: {missed} (docs/editing.md)")


def test_rome_flips_known_facts_and_keeps_neighbours(gemma, facts) -> None:
    """Measured with the shipped config (clamp 0.75, 6 edits one after another, the default statistics corpus):
    P(new) > P(true) on 5 of 6 facts, top-1 on 4, paraphrases 0.58, own answers of 14 of 18 neighbours kept
    (fortunes-only statistics: 4 of 6, top-1 3, 0.50, 15 of 18; clamp 4: 2 of 6 on 2 facts)."""
    requests = facts[:6]
    _check(gemma, "rome", requests, evaluate(gemma, requests),
           {"efficacy_score": 0.83, "paraphrase_score": 0.58, "neighbours_kept": 0.77})


def test_memit_flips_known_facts_and_keeps_neighbours(gemma, facts) -> None:
    """Measured with the shipped config (layer 5, lambda 300; 10 facts in one batch): efficacy 1.00, paraphrase
    0.85, neighbours kept 0.97. The spread over layers 3-6 flipped none (efficacy 0.00 at lambda 15000/1500, 0.20
    at 100: README 'Editing facts')."""
    requests = facts[:10]
    _check(gemma, "memit", requests, evaluate(gemma, requests),
           {"efficacy_score": 0.99, "paraphrase_score": 0.8, "neighbours_kept": 0.95})
