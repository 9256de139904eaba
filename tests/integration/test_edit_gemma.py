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


def _check(gemma, method: str, requests, baseline) -> None:
    m, hp = load_method(method, "gemma3-270m")
    layers = list(getattr(hp, "layers", None) or [hp.layer])
    stats = key_second_moments(gemma.model, gemma.tokenizer, layers, samples=hp.stats_samples)
    before = {k: v.clone() for k, v in gemma.model.named_parameters() if "down_proj" in k}
    result = m.apply(gemma.model, gemma.tokenizer, requests, hp, EditContext(stats=stats))
    try:
        after = evaluate(gemma, requests, baseline=baseline).summary
        assert after.efficacy_top1 >= 0.9, after
        assert after.paraphrase_score >= 0.5, after
        assert after.neighbours_kept >= 0.85, after
    finally:
        result.restore()
    assert all(torch.equal(p, before[k]) for k, p in gemma.model.named_parameters() if k in before)


def test_rome_flips_known_facts_and_keeps_neighbours(gemma, facts) -> None:
    requests = facts[:2]
    _check(gemma, "rome", requests, evaluate(gemma, requests))


def test_memit_flips_known_facts_and_keeps_neighbours(gemma, facts) -> None:
    requests = facts[:10]
    _check(gemma, "memit", requests, evaluate(gemma, requests))
