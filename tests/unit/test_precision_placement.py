"""Models beyond one float32 device (issue 23): bfloat16 edits on the tiny GPT-2, explicit device maps (with and
without CPU offload), and the --dtype / device-map input checks."""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch

from stylekg.editing import EditContext, EditResult
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import key_second_moments, weights_hash
from stylekg.lm import ModelError, load_model
from stylekg.lm.generation import generate
from stylekg.lm.placement import compute_dtype, dispatch, input_device, is_dispatched, resolve_dtype, weight_tensor

from .edit_helpers import REQUESTS, margins, same_weights, snapshot

BF16_METHODS = ["rome", "memit", "ft"]


def every_module_map(lm, device: str = "cpu") -> dict[str, str]:
    """A device map naming every top-level piece of the tiny GPT-2 and each of its layers explicitly."""
    layers = [f"transformer.h.{i}" for i in range(lm.num_layers)]
    return {name: device for name in ["transformer.wte", "transformer.wpe", "transformer.drop", *layers,
                                      "transformer.ln_f", "lm_head"]}


@pytest.fixture(scope="module")
def bf16():
    """The tiny GPT-2 in bfloat16 (its own copy: the session's float32 one stays as it is)."""
    return load_model("tiny-gpt2", dtype="bfloat16")


@pytest.fixture(scope="module")
def bf16_stats(bf16, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLEKG_HOME", str(tmp_path_factory.mktemp("home")))
        return key_second_moments(bf16.model, bf16.tokenizer, [1, 2], samples=500)


def test_dtype_names_and_defaults() -> None:
    assert resolve_dtype(None) is torch.float32  # the default is unchanged
    assert resolve_dtype("bfloat16") is torch.bfloat16 and resolve_dtype(torch.float16) is torch.float16
    assert compute_dtype(torch.bfloat16) is torch.float32 and compute_dtype(torch.float64) is torch.float64
    with pytest.raises(ModelError, match="'float64' is not a supported dtype"):
        resolve_dtype("float64")
    assert load_model("tiny-gpt2").dtype is torch.float32


def test_bf16_delta_is_accumulated_in_float32_and_rounded_once(bf16) -> None:
    """W = bf16(W_0 + d1 + d2) for a bf16 weight (no bf16 sum in between), deltas kept in float32; a float32 weight
    keeps the in-place adds it always had; restore() is bit-identical."""
    name = "transformer.h.1.mlp.c_proj.weight"
    w0 = weight_tensor(bf16.model, name).detach().clone()
    gen = torch.Generator().manual_seed(0)
    d1, d2 = (1e-3 * torch.randn(w0.shape, generator=gen, dtype=torch.float64) for _ in range(2))
    result = EditResult("test", [])
    result.add_delta(bf16.model, name, d1)
    result.add_delta(bf16.model, name, d2)
    try:
        total = d1.float() + d2.float()
        assert result.deltas[name].dtype is torch.float32 and torch.equal(result.deltas[name], total)
        assert torch.equal(weight_tensor(bf16.model, name), (w0.float() + total).to(torch.bfloat16))
        twice = (w0 + d1.to(torch.bfloat16)) + d2.to(torch.bfloat16)  # what adding in bf16 would give
        assert not torch.equal(weight_tensor(bf16.model, name), twice)
    finally:
        result.restore()
    assert torch.equal(weight_tensor(bf16.model, name), w0) and weight_tensor(bf16.model, name).dtype is torch.bfloat16

    f32 = torch.zeros(3, 3)
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(f32.clone())
    result = EditResult("test", [])
    result.add_delta(model, "w", torch.full((3, 3), 0.1, dtype=torch.float64))
    result.add_delta(model, "w", torch.full((3, 3), 0.2, dtype=torch.float64))
    expected = f32.clone().add_(torch.full((3, 3), 0.1)).add_(torch.full((3, 3), 0.2))
    assert torch.equal(model.w.detach(), expected)


@pytest.mark.parametrize("name", BF16_METHODS)
def test_bf16_edit_raises_new_and_restores_bit_identically(bf16, bf16_stats, name, tmp_path) -> None:
    """The float32 tests (test_edit_methods, test_ft_finetune) show each method puts P(new) above P(old) on both
    requests; in bfloat16 it still does, its deltas are float32, its delta file re-applies the same bits, and
    restore() gives back every original bf16 bit."""
    method, hparams = load_method(name, "tiny-gpt2")
    model, tok = bf16.model, bf16.tokenizer
    before = snapshot(model)
    margin_before = margins(model, tok, REQUESTS)
    result = method.apply(model, tok, REQUESTS, hparams, EditContext(stats=bf16_stats))
    try:
        margin_after = margins(model, tok, REQUESTS)
        assert all(a > 0 and a > b for a, b in zip(margin_after, margin_before)), (margin_before, margin_after)
        assert result.deltas and all(d.dtype is torch.float32 for d in result.deltas.values())
        assert all(p.dtype is torch.bfloat16 for p in model.parameters())
        edited = snapshot(model)
        path = result.save(tmp_path / "edit.safetensors")
    finally:
        result.restore()
    assert same_weights(model, before)
    again = EditResult.load_and_apply(path, model)
    try:
        assert same_weights(model, edited)  # one rounding of W_0 + delta: the saved delta gives the same bits
    finally:
        again.restore()
    assert same_weights(model, before)


def test_bf16_sequential_delta_file_gives_the_same_bits(bf16, bf16_stats, tmp_path) -> None:
    """Two ROME batches round a bf16 weight twice; the combined delta is the float32 difference of the bits they
    left, so re-applying the combined delta file to the original gives those bits again."""
    from stylekg.editing.rome import apply as rome_apply
    from stylekg.editing.sequential import apply_sequentially

    _, hparams = load_method("rome", "tiny-gpt2")
    model, tok = bf16.model, bf16.tokenizer
    before = snapshot(model)
    result = apply_sequentially("rome", rome_apply, model, tok, REQUESTS, hparams, 1, EditContext(stats=bf16_stats))
    try:
        edited = snapshot(model)
        path = result.save(tmp_path / "seq.safetensors")
    finally:
        result.restore()
    assert same_weights(model, before)
    again = EditResult.load_and_apply(path, model)
    try:
        assert same_weights(model, edited)
    finally:
        again.restore()
    assert same_weights(model, before)


@pytest.fixture(scope="module")
def whole():
    """The tiny GPT-2 freshly loaded and placed whole: the session's shared ``tiny`` may have been touched by an
    earlier module (its weights hash differed after the full unit suite), so the comparisons use their own copy."""
    return load_model("tiny-gpt2")


@pytest.fixture(scope="module")
def memit_reference(whole, tmp_path_factory):
    """MEMIT's deltas on the tiny GPT-2 placed whole (restored right away), with the statistics it used."""
    tiny = whole
    method, hparams = load_method("memit", "tiny-gpt2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLEKG_HOME", str(tmp_path_factory.mktemp("home")))
        stats = key_second_moments(tiny.model, tiny.tokenizer, hparams.layers, samples=500)
    result = method.apply(tiny.model, tiny.tokenizer, REQUESTS, hparams, EditContext(stats=stats))
    result.restore()
    return stats, result.deltas


def _memit_matches(lm, reference) -> None:
    stats, deltas = reference
    method, hparams = load_method("memit", "tiny-gpt2")
    before = snapshot(lm.model)
    result = method.apply(lm.model, lm.tokenizer, REQUESTS, hparams, EditContext(stats=stats))
    try:
        assert result.deltas.keys() == deltas.keys()
        for key, delta in deltas.items():
            assert torch.allclose(result.deltas[key], delta, rtol=1e-5, atol=1e-5), key
        assert all(m > 0 for m in margins(lm.model, lm.tokenizer, REQUESTS))
    finally:
        result.restore()
    assert same_weights(lm.model, before)


def test_explicit_device_map_edits_like_the_whole_model(whole, memit_reference) -> None:
    """A map naming every module (all on the CPU here) puts accelerate's hooks on the model; MEMIT's delta is the
    one of the model placed whole."""
    mapped = load_model("tiny-gpt2", device_map=every_module_map(whole))
    assert is_dispatched(mapped.model) and mapped.model.hf_device_map["transformer.h.2"] == "cpu"
    assert mapped.device == torch.device("cpu") and weights_hash(mapped.model) == weights_hash(whole.model)
    prompts = ["The capital city of France", "Hello"]
    assert generate(mapped, prompts, max_new_tokens=4) == generate(whole, prompts, max_new_tokens=4)
    _memit_matches(mapped, memit_reference)


def test_cpu_offloaded_layers_edit_like_the_whole_model(whole, memit_reference) -> None:
    """Offloading (weights kept in CPU copies, parameters left as meta tensors, loaded for each forward pass) as a
    GPU map's "cpu" entries do, with the CPU as execution device: the edit writes into the copies, gives MEMIT's
    delta of the model placed whole, and restores them bit-identically."""
    lm = load_model("tiny-gpt2")
    device_map = every_module_map(lm)
    dispatch(lm.model, device_map, offload_cpu=True)
    edited = "transformer.h.1.mlp.c_proj.weight"
    assert lm.model.get_parameter(edited).device.type == "meta"
    assert weight_tensor(lm.model, edited).device.type == "cpu"
    assert input_device(lm.model) == torch.device("cpu")
    assert weights_hash(lm.model) == weights_hash(whole.model)  # caches keyed by weights see the same model
    _memit_matches(lm, memit_reference)


def test_fine_tuning_refuses_offloaded_weights(tiny) -> None:
    from stylekg.errors import EditError

    lm = load_model("tiny-gpt2")
    dispatch(lm.model, every_module_map(lm), offload_cpu=True)
    method, hparams = load_method("ft", "tiny-gpt2")
    before = snapshot(lm.model)
    with pytest.raises(EditError, match="offloaded to the CPU and cannot be trained"):
        method.apply(lm.model, lm.tokenizer, REQUESTS, hparams, None)
    assert same_weights(lm.model, before)


def test_bad_device_maps_are_one_line_errors(tiny) -> None:
    full = every_module_map(tiny)
    missing = {k: v for k, v in full.items() if k != "transformer.h.3"}
    with pytest.raises(ModelError, match="device map incomplete: .*transformer.h.3"):
        load_model("tiny-gpt2", device_map=missing)
    with pytest.raises(ModelError, match="lacks: \\['transformer.h.9'\\]"):
        load_model("tiny-gpt2", device_map={**full, "transformer.h.9": "cpu"})
    with pytest.raises(ModelError, match="'tpu' is not a torch device"):
        load_model("tiny-gpt2", device_map={**full, "lm_head": "tpu"})
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="0 CUDA device"):
            load_model("tiny-gpt2", device_map={**full, "lm_head": 0})


def test_device_auto_without_a_gpu_is_the_cpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --device auto spreads the model over it")
    lm = load_model("tiny-gpt2", device="auto")
    assert lm.device == torch.device("cpu") and not is_dispatched(lm.model)


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, list[str]]:
    from stylekg import cli as cli_module

    monkeypatch.setattr(sys, "argv", ["stylekg", *args])
    capsys.readouterr()
    try:
        cli_module.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("args", [
    ["generate", "tiny-gpt2", "hello", "--dtype", "float64"],
    ["models", "info", "tiny-gpt2", "--dtype", "half"],
])
def test_bad_dtype_flag_is_one_line_exit_2(home, monkeypatch, capsys, args) -> None:
    code, err = _cli(monkeypatch, capsys, *args)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and "is not a supported dtype" in err[0] and "float32, bfloat16" in err[0]


def test_run_config_dtype_key(tmp_path) -> None:
    """``dtype`` is a run-config key; an old config without it loads with the same settings hash (run id)."""
    from stylekg.errors import ConfigError
    from stylekg.pipeline.config import RunConfig

    old = RunConfig(style="Yoda")
    assert "dtype" not in old.to_dict() and old.dtype == "float32"
    path = tmp_path / "c.toml"
    path.write_text('[run]\nstyle = "Yoda"\n')
    assert RunConfig.from_toml(path).key == old.key
    bf = RunConfig.from_toml(path, dtype="bfloat16")
    assert bf.dtype == "bfloat16" and bf.key != old.key
    written = tmp_path / "written.toml"
    written.write_text(bf.to_toml())
    assert RunConfig.from_toml(written) == bf
    with pytest.raises(ConfigError, match="dtype 'float64' is not one of float32, bfloat16, float16"):
        dataclasses.replace(old, dtype="float64")
