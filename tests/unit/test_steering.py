"""Activation steering and LEACE erasure on the tiny GPT-2: no weight changes, hook lifetime, direction."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, get_method
from stylekg.editing.hparams_files import load_method
from stylekg.editing.steer import collect_activations, fit_leace, style_direction
from stylekg.errors import EditError
from stylekg.lm.hooks import hook_count
from stylekg.material import StyleMaterial

STYLE = [
    "Believe me, this is the best plan, tremendous, really tremendous.",
    "Nobody has seen anything like it, believe me, tremendous.",
    "It is huge, the biggest, everybody says so, tremendous.",
]
NEUTRAL = [
    "The capital of France is Paris.",
    "The man went to the shop.",
    "Michael Jordan plays the sport of basketball.",
]
PROMPTS = ["The capital of Italy is", "Toko Yasuda plays the", "The mother tongue of"]


def context(style=STYLE, neutral=NEUTRAL) -> EditContext:
    return EditContext(material=StyleMaterial("", style_texts=tuple(style), neutral_texts=tuple(neutral)))


def hparams(**changes):
    return dataclasses.replace(load_method("steer", "tiny-gpt2")[1], **changes)


def style_preference(lm) -> float:
    """Mean over prompts of log P(style-only tokens) - log P(neutral-only tokens) at the next position."""
    tok = lm.tokenizer
    style_ids = {i for t in STYLE for i in tok(t)["input_ids"]}
    neutral_ids = {i for t in NEUTRAL for i in tok(t)["input_ids"]}
    s, n = sorted(style_ids - neutral_ids), sorted(neutral_ids - style_ids)
    batch = tok(PROMPTS, return_tensors="pt", padding=True)
    last = batch["attention_mask"].sum(1) - 1
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(**batch).logits[torch.arange(len(PROMPTS)), last], -1)
    return float((logp[:, s].logsumexp(-1) - logp[:, n].logsumexp(-1)).mean())


def test_positive_strength_moves_next_tokens_towards_the_style(tiny):
    base = style_preference(tiny)
    shifted = {}
    for strength in (4.0, -4.0):
        result = get_method("steer").apply(tiny.model, tiny.tokenizer, [], hparams(strength=strength),
                                           context())
        try:
            shifted[strength] = style_preference(tiny)
        finally:
            result.restore()
    assert shifted[4.0] > base + 0.05 > base - 0.05 > shifted[-4.0], (shifted, base)
    assert style_preference(tiny) == base  # restored


def test_weights_untouched_and_hook_lives_until_restore(tiny):
    snap = {n: p.detach().clone() for n, p in tiny.model.named_parameters()}
    hooks = hook_count(tiny.model)
    for mode in ("add", "erase"):
        result = get_method("steer").apply(tiny.model, tiny.tokenizer, [], hparams(mode=mode),
                                           context())
        assert hook_count(tiny.model) == hooks + 1
        assert result.deltas == {} and result.params_changed == 0
        style_preference(tiny)  # run forward passes through the hook
        for name, param in tiny.model.named_parameters():
            assert torch.equal(param, snap[name]), name
        result.restore()
        assert hook_count(tiny.model) == hooks
        result.restore()  # idempotent
        assert hook_count(tiny.model) == hooks


def test_direction_is_the_difference_of_means(tiny):
    layer = hparams().layer
    pos = collect_activations(tiny.model, tiny.arch, tiny.tokenizer, STYLE, layer)
    neg = collect_activations(tiny.model, tiny.arch, tiny.tokenizer, NEUTRAL, layer)
    v = style_direction(tiny.model, tiny.tokenizer, STYLE, NEUTRAL, layer)
    assert torch.allclose(v, pos.mean(0) - neg.mean(0))
    assert float(v.norm()) > 0


def test_erase_mode_equalises_the_class_means(tiny):
    layer = hparams().layer
    acts = lambda texts: collect_activations(tiny.model, tiny.arch, tiny.tokenizer, texts, layer)  # noqa: E731
    gap_before = float((acts(STYLE).mean(0) - acts(NEUTRAL).mean(0)).norm())
    result = get_method("steer").apply(tiny.model, tiny.tokenizer, [], hparams(mode="erase"),
                                       context())
    try:  # the Trace reading activations sees the erased residual (the steering hook runs first)
        gap_after = float((acts(STYLE).mean(0) - acts(NEUTRAL).mean(0)).norm())
    finally:
        result.restore()
    assert gap_before > 0.01 and gap_after < 1e-4 * gap_before, (gap_before, gap_after)


def test_leace_closed_form_properties():
    gen = torch.Generator().manual_seed(0)
    n, d = 400, 8
    z = (torch.rand(n, generator=gen) < 0.4).float()
    mix = torch.randn(d, d, generator=gen)
    x = torch.randn(n, d, generator=gen) @ mix + 3.0 * z[:, None] * torch.randn(d, generator=gen)
    eraser = fit_leace(x, z)
    erased = eraser(x)
    assert torch.allclose(erased[z == 1].mean(0), erased[z == 0].mean(0), atol=1e-4)  # linear guardedness
    # idempotent (a projection), and the change is rank one
    assert torch.allclose(eraser(erased), erased, atol=1e-4)
    assert torch.linalg.matrix_rank((x - erased).double(), atol=1e-5) == 1
    # least change (Theorem 4.3, for every p.s.d. norm M): the orthogonal projection of the mean gap
    # also equalises the means but moves x more, in the Euclidean and in the Sigma^-1 norm
    gap = x[z == 1].mean(0) - x[z == 0].mean(0)
    naive = x - ((x - x.mean(0)) @ gap / gap.dot(gap))[:, None] * gap
    assert torch.allclose(naive[z == 1].mean(0), naive[z == 0].mean(0), atol=1e-4)
    for m in (torch.eye(d, dtype=torch.float64), torch.linalg.inv(torch.cov(x.T.double()))):
        moved = lambda y: float(torch.einsum("nd,de,ne->", (x - y).double(), m, (x - y).double()))  # noqa: E731
        assert moved(erased) < moved(naive)


def test_bad_inputs_are_clear_errors(tiny):
    with pytest.raises(EditError, match="needs style and neutral texts"):
        get_method("steer").apply(tiny.model, tiny.tokenizer, [], hparams(), context(neutral=[]))
    with pytest.raises(EditError, match="layer 7 is not valid"):
        get_method("steer").apply(tiny.model, tiny.tokenizer, [], hparams(layer=7),
                                  context())
    with pytest.raises(EditError, match="two classes"):
        fit_leace(torch.randn(5, 3), torch.ones(5))
    with pytest.raises(EditError, match="unknown steering mode"):
        hparams(mode="project")
    assert hook_count(tiny.model) == 0
