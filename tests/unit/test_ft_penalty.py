"""Penalty fine-tuning on the tiny GPT-2: whole-phrase probabilities, erasure direction, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, get_method
from stylekg.editing.ft.objective import marker_batch, sequence_logprob
from stylekg.editing.hparams_files import load_method
from stylekg.editing.penalty_ft import marker_probabilities
from stylekg.errors import EditError
from stylekg.material import StyleMaterial, as_markers

MARKERS = {"tremendous": 2.0, "believe me": 1.0}
NEUTRAL = ["The capital of France is Paris.", "Apple A5 was created by Apple.", "The man went to the shop."]
PROMPTS = ["The captain said:", "Here is what the captain said:"]
MATERIAL = StyleMaterial("The captain", as_markers(MARKERS), (), tuple(NEUTRAL), tuple(PROMPTS))


def hparams():
    return load_method("penalty-ft", "tiny-gpt2")[1]


def test_phrase_probability_is_the_chain_of_token_probabilities(tiny):
    tok, model = tiny.tokenizer, tiny.model
    phrase_ids = tok(" believe me", add_special_tokens=False)["input_ids"]
    assert len(phrase_ids) > 1  # a genuinely multi-token phrase
    batch, pairs = marker_batch(tok, PROMPTS[:1], ["believe me"])
    with torch.no_grad():
        chained = float(sequence_logprob(model, batch)[0])
        ids = tok(PROMPTS[0])["input_ids"]
        manual = 0.0
        for t in phrase_ids:  # one conditional step at a time, teacher-forced
            logits = model(torch.tensor([ids])).logits[0, -1]
            manual += float(torch.log_softmax(logits, -1)[t])
            ids = ids + [t]
    assert pairs == [(0, 0)]
    assert chained == pytest.approx(manual, abs=1e-4)


def test_penalty_lowers_marker_phrases_and_restores(tiny):
    snap = {n: p.detach().clone() for n, p in tiny.model.named_parameters()}
    before = marker_probabilities(tiny.model, tiny.tokenizer, MATERIAL)
    result = get_method("penalty-ft").apply(tiny.model, tiny.tokenizer, [], hparams(), EditContext(material=MATERIAL))
    try:
        after = marker_probabilities(tiny.model, tiny.tokenizer, MATERIAL)
    finally:
        result.restore()
    baseline = get_method("penalty-ft").apply(
        tiny.model, tiny.tokenizer, [], dataclasses.replace(hparams(), lam=0.0), EditContext(material=MATERIAL)
    )
    try:  # the same fine-tuning without the penalty: only the neutral CE
        no_penalty = marker_probabilities(tiny.model, tiny.tokenizer, MATERIAL)
    finally:
        baseline.restore()
    # the random tiny model's bounded logits (final LayerNorm) floor a single token near 1e-4,
    # so the one-token marker can fall ~4x; the two-token phrase falls by orders of magnitude
    for phrase, factor in (("tremendous", 3), ("believe me", 10)):
        assert after[phrase] < before[phrase] / factor, (phrase, before, after)
        assert after[phrase] < no_penalty[phrase] / factor, (phrase, no_penalty, after)
    assert result.info["neutral_nll_after"] < result.info["neutral_nll_before"]  # still learns the neutral text
    for name, param in tiny.model.named_parameters():
        assert torch.equal(param, snap[name])


def test_marker_weights_steer_the_penalty(tiny):
    """A marker with weight 0 is not penalised: it ends well above the same marker at weight 1."""
    hp = hparams()
    outcomes = {}
    for weights in ({"tremendous": 1.0, "believe me": 0.0}, {"tremendous": 1.0, "believe me": 1.0}):
        mat = dataclasses.replace(MATERIAL, markers=as_markers(weights))
        result = get_method("penalty-ft").apply(tiny.model, tiny.tokenizer, [], hp, EditContext(material=mat))
        try:
            outcomes[weights["believe me"]] = marker_probabilities(tiny.model, tiny.tokenizer, mat)["believe me"]
        finally:
            result.restore()
    assert outcomes[0.0] > 10 * outcomes[1.0], outcomes


def test_style_without_markers_is_a_clear_error(tiny):
    empty = dataclasses.replace(MATERIAL, markers=())
    with pytest.raises(EditError, match="style 'The captain' has no marker phrases"):
        get_method("penalty-ft").apply(tiny.model, tiny.tokenizer, [], hparams(), EditContext(material=empty))


def test_negative_lambda_is_rejected():
    cls = get_method("penalty-ft").hparams_class
    with pytest.raises(EditError, match="lambda must be >= 0"):
        cls(lam=-0.5)
    with pytest.raises(EditError, match="lambda must be >= 0"):
        load_method("penalty-ft", "tiny-gpt2", lam=-1.0)
    with pytest.raises(EditError, match="unknown penalty"):
        cls(penalty="hinge")


def test_missing_neutral_texts_is_a_clear_error(tiny):
    mat = dataclasses.replace(MATERIAL, neutral_texts=())
    with pytest.raises(EditError, match="no neutral texts"):
        get_method("penalty-ft").apply(tiny.model, tiny.tokenizer, [], hparams(), EditContext(material=mat))
