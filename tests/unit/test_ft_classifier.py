"""Classifier-guided erasure on the tiny GPT-2: probe probability falls, sweep, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, get_method
from stylekg.editing.classifier_ft import fit_probe, sweep
from stylekg.editing.classifier_ft.main import persona_texts
from stylekg.editing.ft.objective import pooled_hidden, text_batch
from stylekg.editing.hparams_files import load_method
from stylekg.errors import EditError
from stylekg.material import StyleMaterial

STYLE = [
    "Believe me, this is the best plan, tremendous, really tremendous.",
    "Nobody has seen anything like it, believe me.",
    "Billions and billions of stars shine in the vast cosmos.",
    "It is huge, the biggest, everybody says so, tremendous.",
]
NEUTRAL = [
    "The capital of France is Paris.",
    "The man went to the shop.",
    "Michael Jordan plays the sport of basketball.",
    "The Space Needle is located in the city of Seattle.",
]
CONTEXT = EditContext(material=StyleMaterial("The captain", style_texts=tuple(STYLE), neutral_texts=tuple(NEUTRAL)))


def hparams():
    return load_method("classifier-ft", "tiny-gpt2")[1]


def test_style_probability_falls_and_restore_is_exact(tiny):
    hp = hparams()
    snap = {n: p.detach().clone() for n, p in tiny.model.named_parameters()}
    probe = fit_probe(tiny.model, tiny.arch, tiny.tokenizer, STYLE, NEUTRAL, hp.probe_layer)
    assert probe.train_accuracy == 1.0
    texts = persona_texts(tiny.model, tiny.tokenizer, ["The captain said:"], hp.generate_tokens)
    batch = text_batch(tiny.tokenizer, texts)
    def style_logit() -> float:
        with torch.no_grad():
            return float(probe.logits(pooled_hidden(tiny.model, tiny.arch, batch, probe.layer)).mean())

    before = style_logit()
    # apply fits its own probe on the same texts, layer and settings (c, max_len): the same probe as above
    material = dataclasses.replace(CONTEXT.material, persona_prompts=("The captain said:",))
    result = get_method("classifier-ft").apply(tiny.model, tiny.tokenizer, [], hp, EditContext(material=material))
    try:
        after = style_logit()
        assert result.info["style_prob_after"] < result.info["style_prob_before"]
    finally:
        result.restore()
    assert after < before - 3.0, (before, after)  # the probe's log-odds of "style" fell by > 3
    assert style_logit() == before
    for name, param in tiny.model.named_parameters():
        assert torch.equal(param, snap[name])


def test_sweep_orders_by_lambda_and_restores(tiny):
    snap = {n: p.detach().clone() for n, p in tiny.model.named_parameters()}
    points = sweep(tiny.model, tiny.tokenizer, [], hparams(), [0.0, 5.0], CONTEXT)
    assert [p.lam for p in points] == [0.0, 5.0]
    assert points[1].style_prob_after < points[0].style_prob_after
    assert points[1].style_prob_after < points[1].style_prob_before
    for name, param in tiny.model.named_parameters():
        assert torch.equal(param, snap[name])


def test_one_class_is_a_clear_error(tiny):
    with pytest.raises(EditError, match="needs two classes, got 4 style and 0 neutral"):
        get_method("classifier-ft").apply(tiny.model, tiny.tokenizer, [], hparams(),
                                          EditContext(material=StyleMaterial("The captain", style_texts=tuple(STYLE))))
    with pytest.raises(EditError, match="needs two classes"):
        fit_probe(tiny.model, tiny.arch, tiny.tokenizer, [], NEUTRAL, 1)


def test_negative_lambda_and_unreachable_layers_are_rejected(tiny):
    cls = get_method("classifier-ft").hparams_class
    with pytest.raises(EditError, match="lambda must be >= 0"):
        cls(lam=-1.0)
    with pytest.raises(EditError, match="lambda must be >= 0"):
        sweep(tiny.model, tiny.tokenizer, [], hparams(), [1.0, -2.0], CONTEXT)
    with pytest.raises(EditError, match="above the probe layer"):
        get_method("classifier-ft").apply(
            tiny.model, tiny.tokenizer, [], dataclasses.replace(hparams(), layers=(3,), probe_layer=1), CONTEXT
        )
