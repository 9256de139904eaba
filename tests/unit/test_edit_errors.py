"""Bad input to the editing methods: one clear EditError, and the model left unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from stylekg.editing import EditContext
from stylekg.editing.hparams_files import CONFIG_ROOT, load_method
from stylekg.editing.stats import key_second_moments
from stylekg.errors import EditError
from stylekg.requests import EditRequest

from .edit_helpers import REQUESTS, same_weights, snapshot


@pytest.fixture(scope="module")
def stats(tiny, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLEKG_HOME", str(tmp_path_factory.mktemp("home")))
        return key_second_moments(tiny.model, tiny.tokenizer, [1, 2], samples=500)


def _hp(name: str, **changes):
    method, hp = load_method(name, "tiny-gpt2")
    return method, dataclasses.replace(hp, **changes)


@pytest.mark.parametrize("name", ["rome", "memit", "alphaedit"])
def test_subject_missing_from_prompt(tiny, stats, name) -> None:
    method, hp = _hp(name)
    before = snapshot(tiny.model)
    bad = EditRequest("The capital city of {}", "Atlantis", " Rome", " Paris")
    object.__setattr__(bad, "prompt", "The capital city of France")  # built elsewhere, never validated
    with pytest.raises(EditError, match="missing from prompt"):
        method.apply(tiny.model, tiny.tokenizer, [REQUESTS[0], bad], hp, EditContext(stats=stats))
    assert same_weights(tiny.model, before)


def test_request_without_subject_slot_or_subject_is_rejected() -> None:
    with pytest.raises(EditError, match="no '{}'"):
        EditRequest("The capital city of France", "France", " Rome")
    with pytest.raises(EditError, match="empty subject"):
        EditRequest("The capital city of {}", "   ", " Rome")


def test_empty_target_is_rejected() -> None:
    with pytest.raises(EditError, match="empty target_new"):
        EditRequest("The capital city of {}", "France", "  ", " Paris")


@pytest.mark.parametrize("name,change", [("rome", {"layer": 99}), ("memit", {"layers": (1, 99)}), ("alphaedit", {"layers": (-1,)})])
def test_layer_the_model_lacks(tiny, stats, name, change) -> None:
    method, hp = _hp(name, **change)
    before = snapshot(tiny.model)
    with pytest.raises(EditError, match=r"has 4 layers"):
        method.apply(tiny.model, tiny.tokenizer, REQUESTS, hp, EditContext(stats=stats))
    assert same_weights(tiny.model, before)


@pytest.mark.parametrize("name", ["rome", "memit", "alphaedit"])
def test_nan_in_optimisation(tiny, stats, name) -> None:
    """A step size of 1e30 with no norm clamp overflows the residual stream: NaN must be caught."""
    method, hp = _hp(name, v_lr=1e30, clamp_norm_factor=float("inf"), v_num_grad_steps=3)
    before = snapshot(tiny.model)
    with pytest.raises(EditError, match="NaN"):
        method.apply(tiny.model, tiny.tokenizer, REQUESTS, hp, EditContext(stats=stats))
    assert same_weights(tiny.model, before)
    with pytest.raises(EditError, match="v_lr must be a positive finite number"):
        method.apply(tiny.model, tiny.tokenizer, REQUESTS, _hp(name, v_lr=float("nan"))[1], EditContext(stats=stats))
    assert same_weights(tiny.model, before)


def test_failure_after_a_first_layer_was_written_restores_it(tiny, stats) -> None:
    """MEMIT writes layer 1, then layer 2's statistics are NaN: layer 1 must be rolled back."""
    method, hp = _hp("memit")
    broken = {1: stats[1], 2: torch.full_like(stats[2], float("nan"))}
    before = snapshot(tiny.model)
    with pytest.raises(EditError, match="not finite|NaN"):
        method.apply(tiny.model, tiny.tokenizer, REQUESTS, hp, EditContext(stats=broken))
    assert same_weights(tiny.model, before)


def test_hparams_reject_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "rome.toml"
    path.write_text("layer = 2\nlayr = 3\n")
    with pytest.raises(EditError, match="layr"):
        load_method("rome", "tiny-gpt2", path)
    path.write_text('layer = 2\nv_lr = "5e-1"\n')
    with pytest.raises(EditError, match="v_lr must be a number"):
        load_method("rome", "tiny-gpt2", path)


@pytest.mark.parametrize("name", ["rome", "memit", "alphaedit"])
def test_every_shipped_config_loads(name) -> None:
    paths = sorted((CONFIG_ROOT / name).glob("*.toml"))
    assert {p.stem for p in paths} >= {"tiny-gpt2", "smollm2-135m", "gemma3-270m"}
    for path in paths:
        _, hp = load_method(name, path.stem)
        assert dataclasses.is_dataclass(hp)
        with pytest.raises(dataclasses.FrozenInstanceError):
            hp.v_lr = 1.0  # type: ignore[misc]


def test_load_method_fails_loudly(tmp_path: Path) -> None:
    """No silent defaults: a model without a shipped file, a missing file, an unknown or mistyped override."""
    with pytest.raises(EditError, match=r"no shipped hyper-parameters for ft on 'gemma3-270m'.*ft/gemma3-270m\.toml.*--hparams"):
        load_method("ft", "gemma3-270m")
    with pytest.raises(EditError, match="missing.toml does not exist"):
        load_method("rome", "tiny-gpt2", tmp_path / "missing.toml")
    with pytest.raises(EditError, match="unknown FTHparams key.*stats_samples"):
        load_method("ft", "tiny-gpt2", stats_samples=300)
    with pytest.raises(EditError, match="layer must be an integer"):
        load_method("rome", "tiny-gpt2", layer="1")
    method, hp = load_method("rome", "tiny-gpt2", layer=1, stats_samples=None)  # None: not given
    assert method.name == "rome" and hp.layer == 1 and hp.stats_samples == 500
