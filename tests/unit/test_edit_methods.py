"""ROME, MEMIT and AlphaEdit on the tiny GPT-2 (Conv1D layout): effect, exact restore, delta files."""

from __future__ import annotations

import inspect

import pytest
import torch

from stylekg.editing import EditContext, EditResult, get_method, registry
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import key_second_moments

from .edit_helpers import REQUESTS, margins, same_weights, snapshot

METHODS = ["rome", "memit", "alphaedit"]


@pytest.fixture(scope="module")
def stats(tiny, tmp_path_factory):
    """E[k k^T] of layers 1-2, computed once in an isolated stylekg home."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLEKG_HOME", str(tmp_path_factory.mktemp("home")))
        return key_second_moments(tiny.model, tiny.tokenizer, [1, 2], samples=500)


def _setup(name: str):
    return load_method(name, "tiny-gpt2")


@pytest.mark.parametrize("name", METHODS)
def test_edit_raises_new_over_old_and_restores_exactly(tiny, stats, name) -> None:
    method, hparams = _setup(name)
    model, tok = tiny.model, tiny.tokenizer
    before = snapshot(model)
    margin_before = margins(model, tok, REQUESTS)
    result = method.apply(model, tok, REQUESTS, hparams, EditContext(stats=stats))
    try:
        margin_after = margins(model, tok, REQUESTS)
        assert result.params_changed > 0
        for b, a in zip(margin_before, margin_after):
            assert a > 0, f"{name}: P(new) not above P(old) after the edit ({margin_after})"
            assert a > b + 0.1
        assert not same_weights(model, before)
    finally:
        result.restore()
    assert same_weights(model, before)
    assert margins(model, tok, REQUESTS) == margin_before


@pytest.mark.parametrize("name", METHODS)
def test_delta_file_reapplies_the_same_weights(tiny, stats, name, tmp_path) -> None:
    method, hparams = _setup(name)
    model, tok = tiny.model, tiny.tokenizer
    before = snapshot(model)
    result = method.apply(model, tok, REQUESTS, hparams, EditContext(stats=stats))
    edited = snapshot(model)
    path = result.save(tmp_path / "edit.safetensors")
    result.restore()
    assert path.stat().st_size < 2 * sum(d.numel() * 4 for d in result.deltas.values()) + 65536
    again = EditResult.load_and_apply(path, model)
    try:
        assert again.method == name and [r.text for r in again.requests] == [r.text for r in REQUESTS]
        for k, p in model.named_parameters():
            assert torch.allclose(p, edited[k], atol=1e-6, rtol=0), k
        assert margins(model, tok, REQUESTS)[0] > 0
    finally:
        again.restore()
    assert same_weights(model, before)


@pytest.mark.parametrize("name", sorted(registry.METHODS))
def test_every_method_has_the_one_contract(name) -> None:
    """apply(model, tokenizer, requests, hparams, context=None); <Name>Hparams in the package's hparams.py."""
    method = get_method(name)
    params = inspect.signature(method.apply).parameters
    assert list(params) == ["model", "tokenizer", "requests", "hparams", "context"]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params.values())
    assert params["context"].default is None
    assert method.hparams_class.__name__.endswith("Hparams")
    assert method.hparams_class.__module__ == f"{registry.package_of(name)}.hparams"
