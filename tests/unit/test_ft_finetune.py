"""FT-L and LoRA on the tiny GPT-2: they raise P(target_new), stay in bounds and restore exactly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import get_method
from stylekg.editing.ft.objective import continuation_batch, sequence_logprob
from stylekg.editing.hparams_files import load_method
from stylekg.errors import EditError
from stylekg.lm.hooks import hook_count
from stylekg.requests import EditRequest

REQUESTS = [
    EditRequest("{} is located in the city of", "The Space Needle", " Tokyo", " Seattle"),
    EditRequest("{} plays the sport of", "Lionel Messi", " basketball", " soccer"),
]


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def assert_identical(model: torch.nn.Module, snap: dict[str, torch.Tensor]) -> None:
    for name, param in model.named_parameters():
        assert torch.equal(param, snap[name]), f"{name} differs after restore"


def target_logprob(lm) -> torch.Tensor:
    batch = continuation_batch(lm.tokenizer, [r.text for r in REQUESTS], [r.target_new for r in REQUESTS])
    with torch.no_grad():
        return sequence_logprob(lm.model, batch)


def hparams(method: str):
    return load_method(method, "tiny-gpt2")[1]


@pytest.mark.parametrize("method", ["ft", "lora"])
def test_raises_p_target_new_and_restores_exactly(tiny, method):
    snap = snapshot(tiny.model)
    before = target_logprob(tiny)
    result = get_method(method).apply(tiny.model, tiny.tokenizer, REQUESTS, hparams(method))
    try:
        after = target_logprob(tiny)
        assert (after > before + 1.0).all(), (before, after)  # every request's log P rose by > 1 nat
        changed = {n for n, p in tiny.model.named_parameters() if not torch.equal(p, snap[n])}
        assert changed == set(result.deltas) == {f"transformer.h.{i}.mlp.c_proj.weight" for i in (1, 2)}
    finally:
        result.restore()
    assert_identical(tiny.model, snap)
    assert torch.equal(target_logprob(tiny), before)


def test_ft_respects_the_linf_bound(tiny):
    hp = dataclasses.replace(hparams("ft"), norm_constraint=1e-3, lr=1e-2)
    result = get_method("ft").apply(tiny.model, tiny.tokenizer, REQUESTS, hp)
    try:
        worst = max(float(d.abs().max()) for d in result.deltas.values())
        assert 0 < worst <= 1e-3 + 1e-7
    finally:
        result.restore()


def test_ft_failure_leaves_the_model_unchanged(tiny):
    snap = snapshot(tiny.model)
    hp = dataclasses.replace(hparams("ft"), lr=1e30, norm_constraint=float("inf"), steps=5)
    with pytest.raises(EditError, match="loss became|not finite"):
        get_method("ft").apply(tiny.model, tiny.tokenizer, REQUESTS, hp)
    assert_identical(tiny.model, snap)


def test_ft_rejects_bad_layers_and_hparams(tiny):
    with pytest.raises(EditError, match="layers"):
        get_method("ft").apply(tiny.model, tiny.tokenizer, REQUESTS, dataclasses.replace(hparams("ft"), layers=(9,)))
    with pytest.raises(EditError, match="norm_constraint"):
        get_method("ft").hparams_class(norm_constraint=0.0)
    with pytest.raises(EditError, match="target_new"):
        get_method("ft").apply(tiny.model, tiny.tokenizer, [EditRequest("{} is", "x", None, " y")], hparams("ft"))


def test_lora_leaves_no_peft_state_behind(tiny):
    modules = {n: id(m) for n, m in tiny.model.named_modules()}
    flags = {n: p.requires_grad for n, p in tiny.model.named_parameters()}
    rng = torch.random.get_rng_state()
    result = get_method("lora").apply(tiny.model, tiny.tokenizer, REQUESTS, hparams("lora"))
    try:
        assert {n: id(m) for n, m in tiny.model.named_modules()} == modules  # the same module objects
        assert not hasattr(tiny.model, "peft_config")
        assert {n: p.requires_grad for n, p in tiny.model.named_parameters()} == flags
        assert hook_count(tiny.model) == 0
        assert torch.equal(torch.random.get_rng_state(), rng)  # adapter init did not consume the global RNG
        assert result.info["adapter_params"] == 2 * 4 * (64 + 256)  # rank 4, A and B on two c_proj (256 -> 64)
        for delta in result.deltas.values():  # a merged LoRA update has rank <= r
            assert torch.linalg.matrix_rank(delta.double(), atol=1e-6) <= 4
    finally:
        result.restore()


@pytest.mark.parametrize("method", ["ft", "lora", "penalty-ft", "classifier-ft", "steer"])
def test_configs_load_for_both_models(method):
    for model in ("tiny-gpt2", "smollm2-135m"):
        assert dataclasses.is_dataclass(load_method(method, model)[1])
