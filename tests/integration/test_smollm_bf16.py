"""The real SmolLM2 in bfloat16 (issue 23): it still answers the fact, and a ROME edit restores bit-identically."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import key_second_moments
from stylekg.lm import load_model
from stylekg.lm.generation import generate
from stylekg.requests import EditRequest

from ..unit.edit_helpers import margins, same_weights, snapshot

pytestmark = pytest.mark.slow

REQUEST = EditRequest("The {} is located in the city of", "Eiffel Tower", " Rome", " Paris", case_id="0")


@pytest.fixture(scope="module")
def smollm_bf16():
    """Its own bf16 copy (the session's float32 SmolLM2 stays as it is); weights from the real model cache."""
    return load_model("smollm2-135m", dtype="bfloat16")


def test_bf16_answers_capital_of_france(smollm_bf16) -> None:
    assert all(p.dtype is torch.bfloat16 for p in smollm_bf16.model.parameters())
    completion = generate(smollm_bf16, ["The capital of France is"], max_new_tokens=3)[0]
    assert completion.startswith(" Paris"), completion


def test_bf16_rome_edit_moves_the_fact_and_restores_bit_identically(smollm_bf16, tmp_path, monkeypatch) -> None:
    """ROME with the shipped SmolLM2 settings (key statistics from 5,000 corpus tokens instead of 100,000, to keep
    the test short): float32 deltas, P(new) above P(old) after the edit, every bf16 bit back after restore()."""
    method, hparams = load_method("rome", "smollm2-135m")
    hparams = dataclasses.replace(hparams, stats_samples=5000)
    model, tok = smollm_bf16.model, smollm_bf16.tokenizer
    monkeypatch.setenv("STYLEKG_HOME", str(tmp_path))  # the statistics cache (the model is loaded already)
    stats = key_second_moments(model, tok, [hparams.layer], samples=hparams.stats_samples)
    request = REQUEST
    before = snapshot(model)
    (margin_before,) = margins(model, tok, [request])
    result = method.apply(model, tok, [request], hparams, EditContext(stats=stats))
    try:
        (margin_after,) = margins(model, tok, [request])
        assert margin_before < 0 < margin_after, (margin_before, margin_after)
        assert all(d.dtype is torch.float32 for d in result.deltas.values())
    finally:
        result.restore()
    assert same_weights(model, before)
