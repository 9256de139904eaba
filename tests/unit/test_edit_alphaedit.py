"""AlphaEdit: preserved keys keep their outputs; the energy rule works where the absolute one keeps nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, alphaedit, memit
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import collect_second_moments, key_second_moments
from stylekg.errors import EditError
from stylekg.lm.hooks import TraceDict

from .edit_helpers import REQUESTS, margins, same_weights, snapshot

PRESERVED = [
    "The Space Needle is located in the city of Seattle.",
    "Toko Yasuda plays the guitar. Apple A5 was created by Apple.",
    "The mother tongue of Thomas Joannes Stieltjes is Dutch.",
    "Billions and billions of stars shine in the vast cosmos.",
]
LAYERS = (1, 2)


@pytest.fixture(scope="module")
def preserved_keys(tiny) -> dict[int, torch.Tensor]:
    """Real keys k0 of some text at each edited layer (fewer than d_in = 256, so K0 K0^T has a null space)."""
    sites = {layer: tiny.arch.site("mlp_out", layer) for layer in LAYERS}
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in LAYERS}
    for text in PRESERVED:
        ids = tiny.tokenizer(text, return_tensors="pt")
        with torch.no_grad(), TraceDict(tiny.model, list(sites.values()), retain_input=True) as tr:
            tiny.model(**ids)
        for layer, site in sites.items():
            out[layer].append(tr[site].input[0].double())
    return {layer: torch.cat(v) for layer, v in out.items()}


def _hp(module, name: str, **changes):
    _, hp = load_method(name, "tiny-gpt2")
    return dataclasses.replace(hp, **changes)


def test_preserved_keys_keep_their_outputs(tiny, preserved_keys) -> None:
    model, tok, arch = tiny.model, tiny.tokenizer, tiny.arch
    stats = {layer: k.T @ k / k.shape[0] for layer, k in preserved_keys.items()}
    hp = _hp(alphaedit, "alphaedit", nullspace_mode="absolute", nullspace_threshold=1e-9)
    before = snapshot(model)
    result = alphaedit.apply(model, tok, REQUESTS, hp, EditContext(stats=stats))
    try:
        assert all(m > 0 for m in margins(model, tok, REQUESTS))
        for layer, k0 in preserved_keys.items():
            name = arch.site("mlp_out", layer) + ".weight"
            delta = arch.as_out_in(result.deltas[name]).double()
            w = arch.as_out_in(before[name]).double()
            moved = (delta @ k0.T).norm() / (w @ k0.T).norm()
            assert moved < 1e-5, f"layer {layer}: preserved outputs moved by {moved:.2e}"
            assert result.info["null_space"][layer] == 256 - torch.linalg.matrix_rank(k0).item()
    finally:
        result.restore()
    assert same_weights(model, before)
    # the unconstrained MEMIT update does move those outputs: the check above can fail
    plain = memit.apply(model, tok, REQUESTS, _hp(memit, "memit"), EditContext(stats=stats))
    try:
        name = arch.site("mlp_out", 2) + ".weight"
        delta = arch.as_out_in(plain.deltas[name]).double()
        w = arch.as_out_in(before[name]).double()
        assert (delta @ preserved_keys[2].T).norm() / (w @ preserved_keys[2].T).norm() > 1e-3
    finally:
        plain.restore()


def test_projection_is_an_orthogonal_projector(tiny) -> None:
    c, _ = collect_second_moments(tiny.model, tiny.tokenizer, [2], PRESERVED * 30, 400)
    space = alphaedit.null_space(c[2], mode="energy", energy=0.99)
    p = space.projection
    assert 0 < space.kept < space.dim
    assert torch.allclose(p @ p, p, atol=1e-10) and torch.allclose(p, p.T)
    assert space.energy_kept <= 0.01 + 1e-9


def test_energy_rule_keeps_directions_where_absolute_keeps_none(tiny, home) -> None:
    c = key_second_moments(tiny.model, tiny.tokenizer, [2], samples=500)  # 500 keys > 256 dims: full rank
    low = float(torch.linalg.eigvalsh(c[2].double())[0])
    assert low > 0
    assert alphaedit.null_space(c[2], mode="absolute", threshold=1e-2).kept > 0
    # a model with larger activations (as real LLMs have): same directions, every eigenvalue above 1e-2
    scaled = c[2] * (2e-2 / low)
    assert alphaedit.null_space(scaled, mode="absolute", threshold=1e-2).kept == 0
    small, big = alphaedit.null_space(c[2], mode="energy", energy=0.99), alphaedit.null_space(scaled, mode="energy", energy=0.99)
    assert big.kept == small.kept > 0
    hp = _hp(alphaedit, "alphaedit", nullspace_mode="absolute")
    before = snapshot(tiny.model)
    with pytest.raises(EditError, match="keeps no direction"):
        alphaedit.apply(tiny.model, tiny.tokenizer, REQUESTS, hp, EditContext(stats={1: c[2] * 1e4, 2: scaled}))
    assert same_weights(tiny.model, before)


def test_sequential_edits_keep_earlier_ones(tiny, preserved_keys) -> None:
    model, tok = tiny.model, tiny.tokenizer
    stats = {layer: k.T @ k / k.shape[0] for layer, k in preserved_keys.items()}
    hp = _hp(alphaedit, "alphaedit", nullspace_mode="absolute", nullspace_threshold=1e-9)
    cache = alphaedit.KeyCache()
    before = snapshot(model)
    first = alphaedit.apply(model, tok, REQUESTS[:1], hp, EditContext(stats=stats, key_cache=cache))
    kept_first = margins(model, tok, REQUESTS[:1])[0]
    second = alphaedit.apply(model, tok, REQUESTS[1:], hp, EditContext(key_cache=cache))  # no stats needed: cached projection
    try:
        assert cache.edits == 2 and set(cache.previous) == set(LAYERS)
        now = margins(model, tok, REQUESTS)
        assert now[0] > 0 and now[1] > 0
        assert now[0] > kept_first - 0.5
    finally:
        second.restore()
        first.restore()
    assert same_weights(model, before)
