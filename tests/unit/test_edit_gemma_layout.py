"""MEMIT and AlphaEdit on a tiny random Gemma 3 (a norm between down_proj and the residual stream).

A random model barely responds to a value at its down_proj output (the post-FFN norm bounds it), so this checks
the mechanics: the edits move both requests towards their new objects and h^L towards z; the real Gemma 3 270M
is tested in tests/integration/test_edit_gemma.py."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import transformers as tf

from stylekg.editing import EditContext, alphaedit, memit
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import collect_second_moments
from stylekg.lm.tiny import tiny_tokenizer

from .edit_helpers import REQUESTS, margins, same_weights, snapshot

TEXTS = ["The capital city of France is Paris and the favourite sport of Michael Jordan is basketball."] * 40


@pytest.fixture(scope="module")
def gemma_tiny():
    torch.manual_seed(0)
    tok = tiny_tokenizer()
    config = tf.Gemma3TextConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                                 num_attention_heads=2, num_key_value_heads=1, head_dim=32, sliding_window=8,
                                 max_position_embeddings=256, pad_token_id=tok.pad_token_id)
    model = tf.Gemma3ForCausalLM(config).eval()
    with torch.no_grad():  # a non-trivial post-FFN gain, as in the trained model
        for layer in model.model.layers:
            layer.post_feedforward_layernorm.weight.normal_(0.5, 0.5)
    return model, tok


@pytest.mark.parametrize("name", ["memit"])
def test_edits_take_through_the_post_ffn_norm(gemma_tiny, name) -> None:
    model, tok = gemma_tiny
    module = {"memit": memit, "alphaedit": alphaedit}[name]
    _, hp = load_method(name, "tiny-gpt2")
    stats, _ = collect_second_moments(model, tok, [1, 2], TEXTS, 500, max_length=64)
    before = snapshot(model)
    margin_before = margins(model, tok, REQUESTS)
    result = module.apply(model, tok, REQUESTS, dataclasses.replace(hp, layers=(1, 2)), EditContext(stats=stats))
    try:
        after = margins(model, tok, REQUESTS)
        assert all(a > b + 0.05 for a, b in zip(after, margin_before)), (margin_before, after)
        missed = [v["target_missed"] for v in result.info["values"]]
        assert max(missed) < 0.95 and min(missed) < 0.3, missed  # the update moves h^L towards z through the norm
    finally:
        result.restore()
    assert same_weights(model, before)
