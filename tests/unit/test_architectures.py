"""Each architecture table entry names modules that exist on a real instance of its class."""

from __future__ import annotations

import pytest
import torch
import transformers as tf

from stylekg.lm import ARCHITECTURES, UnsupportedArchitectureError, WeightLayout, architecture_of, get_module

SMALL = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2, vocab_size=97)


def _build(name: str) -> torch.nn.Module:
    configs = {
        "GPT2LMHeadModel": lambda: tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=97)),
        "LlamaForCausalLM": lambda: tf.LlamaForCausalLM(tf.LlamaConfig(**SMALL)),
        "MistralForCausalLM": lambda: tf.MistralForCausalLM(tf.MistralConfig(**SMALL)),
        "Qwen2ForCausalLM": lambda: tf.Qwen2ForCausalLM(tf.Qwen2Config(**SMALL)),
        "Gemma3ForCausalLM": lambda: tf.Gemma3ForCausalLM(tf.Gemma3TextConfig(**SMALL, head_dim=8)),
        "GPTJForCausalLM": lambda: tf.GPTJForCausalLM(tf.GPTJConfig(n_embd=32, n_layer=2, n_head=4, rotary_dim=4, vocab_size=97)),
        "GPTNeoXForCausalLM": lambda: tf.GPTNeoXForCausalLM(
            tf.GPTNeoXConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2, vocab_size=97)
        ),
    }
    return configs[name]()


@pytest.mark.parametrize("class_name", sorted(ARCHITECTURES))
def test_every_entry_matches_a_real_instance(class_name: str) -> None:
    model = _build(class_name)
    assert type(model).__name__ == class_name
    arch = architecture_of(model)
    n_layers = arch.num_layers(model)
    hidden = arch.hidden_size(model)
    assert n_layers == 2 and hidden == 32
    for name in (arch.embed, arch.final_norm, arch.lm_head, arch.layers):
        get_module(model, name)
    for layer in range(n_layers):
        for kind in ("residual", "mlp", "attn", "mlp_in", "mlp_out", "attn_out"):
            get_module(model, arch.site(kind, layer))
    # the (out, in) view of the MLP out-projection maps the MLP width back to the hidden size
    w = arch.as_out_in(arch.mlp_out_weight(model, 0))
    assert w.shape[0] == hidden and w.shape[1] != hidden
    expected = torch.nn.Linear if arch.layout is WeightLayout.LINEAR else tf.pytorch_utils.Conv1D
    assert isinstance(get_module(model, arch.site("mlp_out", 0)), expected)


def test_unknown_class_names_itself_and_the_fix() -> None:
    class MyCustomLM(torch.nn.Module):
        pass

    with pytest.raises(UnsupportedArchitectureError) as err:
        architecture_of(MyCustomLM())
    message = str(err.value)
    assert "MyCustomLM" in message and "ARCHITECTURES" in message


def test_missing_module_is_named(tiny) -> None:
    with pytest.raises(UnsupportedArchitectureError, match="transformer.h.99"):
        get_module(tiny.model, "transformer.h.99")


def test_site_needs_layer(tiny) -> None:
    with pytest.raises(ValueError):
        tiny.arch.site("mlp")
    assert tiny.arch.site("embed") == "transformer.wte"


def test_mlp_out_norm_is_data_and_exists() -> None:
    """Gemma 3 names the norm between down_proj and the residual; the Llama layout has none."""
    gemma = _build("Gemma3ForCausalLM")
    arch = architecture_of(gemma)
    assert arch.mlp_out_norm is not None
    norm = get_module(gemma, arch.site("mlp_out_norm", 1))
    assert "norm" in type(norm).__name__.lower()
    llama = architecture_of(_build("LlamaForCausalLM"))
    assert llama.mlp_out_norm is None
    with pytest.raises(ValueError, match="no norm after"):
        llama.site("mlp_out_norm", 0)


def test_residual_targets_map_into_down_proj_space() -> None:
    """norm(m + dm) ~= norm(m) + r for the mapped dm; writing r into down_proj's output directly does not."""
    from stylekg.editing.memit import residual_to_mlp_out

    torch.manual_seed(0)
    gemma = _build("Gemma3ForCausalLM")
    norm = get_module(gemma, architecture_of(gemma).site("mlp_out_norm", 0))
    with torch.no_grad():
        norm.weight.copy_(torch.randn(32) * 0.5)  # a non-trivial gain (1 + w)
    m = torch.randn(5, 32) * 20  # down_proj outputs far from unit scale, as in the real model
    # a reachable change: the norm's output can turn but not grow, so r is tangent to it (t _|_ m)
    with torch.no_grad():
        gain = norm(torch.ones(1, 32))[0]
    t = torch.randn(5, 32)
    unit = m / m.norm(dim=1, keepdim=True)
    t = t - (t * unit).sum(1, keepdim=True) * unit
    r = gain * t * 0.05
    dm = residual_to_mlp_out(norm, m, r)
    with torch.no_grad():
        mapped = norm((m.double() + dm).float()) - norm(m)
        naive = norm(m + r) - norm(m)
    err = ((mapped - r).norm(dim=1) / r.norm(dim=1)).max()
    assert err < 0.05, err
    assert ((naive - r).norm(dim=1) / r.norm(dim=1)).min() > 0.5  # the old, mis-scaled update
    assert torch.allclose(residual_to_mlp_out(norm, m, torch.zeros_like(r)), torch.zeros(5, 32, dtype=torch.float64), atol=1e-4)
