"""Causal tracing on the tiny GPT-2: shapes, reproducibility, fast == naive, hooks, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from stylekg.errors import TraceError
from stylekg.pipeline.records import trace_record
from stylekg.lm.hooks import hook_count
from stylekg.tracing import (
    ContinuationTarget,
    TraceParams,
    TraceResult,
    make_target,
    naive_trace,
    style_target,
    trace,
)

PROMPT = "The Space Needle is located in the city of"
SUBJECT = "The Space Needle"
PARAMS = TraceParams(samples=3, window=3, seed=7)


def targets(tok):
    return {
        "one token": make_target(tok, " Paris"),
        "multi token": make_target(tok, " the city of Seattle"),
        "marker set": make_target(tok, [" very", " huge", " tremendous"]),
        "style score": style_target(tok, [" tremendous", " huge"], [" big", " large"]),
    }


def test_grid_shapes_and_span(tiny):
    result = trace(tiny, PROMPT, SUBJECT, make_target(tiny.tokenizer, " Seattle"), PARAMS)
    n = len(result.tokens)
    assert n == len(tiny.tokenizer(PROMPT)["input_ids"])
    assert set(result.scores) == {"residual", "mlp", "attn"}
    for grid in result.scores.values():
        assert grid.shape == (n, tiny.num_layers) and not np.isnan(grid).any()
    a, b = result.subject_span
    assert "".join(result.tokens[a:b]).strip() == SUBJECT
    assert 0 <= result.low and result.high <= 1


@pytest.mark.parametrize(("name", "tokens"), [("one token", None), ("multi token", [3, -1]), ("marker set", [3, -1]),
                                             ("style score", [3, -1])])
def test_fast_equals_naive_for_every_kind(tiny, name, tokens):
    target = targets(tiny.tokenizer)[name]
    fast = trace(tiny, PROMPT, SUBJECT, target, PARAMS, tokens=tokens)
    naive = naive_trace(tiny, PROMPT, SUBJECT, target, PARAMS, tokens=tokens)
    assert fast.high == pytest.approx(naive.high, abs=1e-5)
    assert fast.low == pytest.approx(naive.low, abs=1e-5)
    for kind in PARAMS.kinds:
        assert np.array_equal(np.isnan(fast.scores[kind]), np.isnan(naive.scores[kind]))
        assert np.nanmax(np.abs(fast.scores[kind] - naive.scores[kind])) <= 1e-5, kind


def test_restoring_last_token_at_last_layer_recovers_clean_score(tiny):
    result = trace(tiny, PROMPT, SUBJECT, make_target(tiny.tokenizer, " Seattle"), PARAMS)
    assert result.scores["residual"][-1, -1] == pytest.approx(result.high, rel=1e-4)
    # and tokens before the subject cannot carry any effect: they never see the noise
    assert np.allclose(result.scores["residual"][: result.subject_span[0]], result.low, atol=1e-7) or result.subject_span[0] == 0


def test_reproducible_bit_for_bit_and_seed_matters(tiny):
    target = make_target(tiny.tokenizer, " Seattle")
    a = trace(tiny, PROMPT, SUBJECT, target, PARAMS)
    b = trace(tiny, PROMPT, SUBJECT, target, PARAMS)
    c = trace(tiny, PROMPT, SUBJECT, target, TraceParams(samples=3, window=3, seed=8))
    for kind in PARAMS.kinds:
        assert np.array_equal(a.scores[kind], b.scores[kind])
    assert not np.array_equal(a.scores["residual"], c.scores["residual"])


def test_no_hook_survives_even_if_target_raises(tiny):
    class Exploding(ContinuationTarget):
        calls = 0

        def score(self, logits):
            type(self).calls += 1
            if type(self).calls > 2:  # after the clean and corrupted runs, inside a patched run
                raise RuntimeError("boom")
            return super().score(logits)

    ids = tuple(tiny.tokenizer(" Seattle", add_special_tokens=False)["input_ids"])
    assert hook_count(tiny.model) == 0
    with pytest.raises(RuntimeError, match="boom"):
        trace(tiny, PROMPT, SUBJECT, Exploding(" Seattle", ids), TraceParams(samples=2, kinds=("mlp",)))
    assert hook_count(tiny.model) == 0
    Exploding.calls = 0
    with pytest.raises(RuntimeError, match="boom"):
        naive_trace(tiny, PROMPT, SUBJECT, Exploding(" Seattle", ids), TraceParams(samples=2, kinds=("attn",)))
    assert hook_count(tiny.model) == 0


def test_subject_that_tokenises_differently_in_context(tiny):
    tok = tiny.tokenizer
    prompt = "Where is Seattle's Space Needle?"
    alone = tok("Seattle", add_special_tokens=False)["input_ids"]
    result = trace(tiny, prompt, "Seattle", make_target(tok, " It"), TraceParams(samples=2, kinds=("residual",)))
    a, b = result.subject_span
    covered = "".join(result.tokens[a:b])
    assert "Seattle" in covered and len(covered) <= len(" Seattle's")
    assert a > 0 and b <= len(result.tokens)
    in_context = tok(prompt, add_special_tokens=False)["input_ids"][a:b]
    assert in_context != alone or covered.strip() == "Seattle"


def test_bad_input_errors(tiny):
    tok = tiny.tokenizer
    target = make_target(tok, " Seattle")
    with pytest.raises(TraceError, match="does not occur"):
        trace(tiny, PROMPT, "Eiffel Tower", target, PARAMS)
    with pytest.raises(TraceError, match="empty target"):
        make_target(tok, "")
    with pytest.raises(TraceError, match="empty marker"):
        make_target(tok, ["", "  "])
    with pytest.raises(TraceError, match="exceeds the model's context"):
        trace(tiny, "The Space Needle " + "is very tall and " * 60, SUBJECT, target, PARAMS)
    with pytest.raises(TraceError, match="unknown trace kind"):
        TraceParams(kinds=("mlp", "ffn"))
    with pytest.raises(TraceError, match="out of range"):
        trace(tiny, PROMPT, SUBJECT, target, PARAMS, tokens=[99])


def test_result_round_trip_and_run_record(tiny, tmp_path):
    result = trace(tiny, PROMPT, SUBJECT, make_target(tiny.tokenizer, " Seattle"), PARAMS, tokens=[2, -1])
    assert np.isnan(result.scores["mlp"][0]).all() and not np.isnan(result.scores["mlp"][2]).any()
    path = result.save(tmp_path, "t")
    back = TraceResult.load(path)
    assert back.tokens == result.tokens and back.params == result.params
    for kind in result.scores:
        assert np.array_equal(back.scores[kind], result.scores[kind], equal_nan=True)
    record = trace_record(result, graph="demo", target_ids=["Style:the-space-needle"])
    assert record.kind == "trace" and record.model == "tiny-gpt2"
    metrics = record.targets[0].metrics
    token, layer, _ = result.peak("mlp")
    assert metrics["mlp_peak_layer"] == layer and metrics["mlp_peak_token"] == token
