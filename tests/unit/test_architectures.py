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
