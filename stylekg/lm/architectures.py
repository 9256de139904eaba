"""Architecture as data: module paths stylekg needs, keyed by the Hugging Face model class.

Every other part of stylekg names sites through :class:`Architecture` (``arch.site("mlp", 3)``),
never by branching on a model name. To support a new model class, add one entry to
:data:`ARCHITECTURES` with its module paths (``{}`` stands for the layer index).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

import torch

from .errors import UnsupportedArchitectureError


class WeightLayout(str, Enum):
    """How a projection stores its weight matrix."""

    CONV1D = "conv1d"  # GPT-2 Conv1D: weight is (in_features, out_features), y = x @ W + b
    LINEAR = "linear"  # torch.nn.Linear: weight is (out_features, in_features), y = x @ W.T + b


SiteKind = Literal["residual", "mlp", "attn", "mlp_in", "mlp_out", "attn_out", "embed", "mlp_out_norm"]


@dataclass(frozen=True)
class Architecture:
    """Module paths of one transformer family; ``{}`` is replaced by the layer index."""

    model_class: str
    layers: str  # the ModuleList of blocks; block i is f"{layers}.{i}"
    mlp: str  # the MLP module (its output is the MLP contribution to the residual stream)
    attn: str  # the attention module
    mlp_in: str  # MLP input projection(s) (up projection)
    mlp_out: str  # MLP output projection (down projection): the module ROME/MEMIT rewrite
    attn_out: str  # attention output projection
    embed: str  # token embedding module (its output is the corrupted site in causal tracing)
    final_norm: str
    lm_head: str
    layout: WeightLayout
    n_layers_attr: str = "num_hidden_layers"
    hidden_attr: str = "hidden_size"
    rotary: str | None = None  # model-level rotary embedding module (None: absolute/learned positions)
    rotary_by_layer_type: bool = False  # rotary(x, position_ids, layer_type): one table per layer type
    # A norm between the MLP out-projection and the residual stream (Gemma 3's post_feedforward_layernorm):
    # the residual then receives norm(down_proj(k)), not down_proj(k). Must be an RMS norm with an
    # elementwise gain (scale-invariant), so residual-space targets can be mapped into down_proj's space.
    mlp_out_norm: str | None = None

    def layer(self, index: int) -> str:
        return f"{self.layers}.{index}"

    def site(self, kind: SiteKind, layer: int | None = None) -> str:
        """The dotted module name of a site; the single helper every hook user goes through."""
        if kind == "embed":
            return self.embed
        if layer is None:
            raise ValueError(f"site kind {kind!r} needs a layer index")
        if kind == "mlp_out_norm" and self.mlp_out_norm is None:
            raise ValueError(f"{self.model_class} has no norm after its MLP out-projection")
        template = {
            "residual": self.layers + ".{}",
            "mlp_out_norm": self.mlp_out_norm or "",
            "mlp": self.mlp,
            "attn": self.attn,
            "mlp_in": self.mlp_in,
            "mlp_out": self.mlp_out,
            "attn_out": self.attn_out,
        }[kind]
        return template.format(layer)

    def num_layers(self, model: torch.nn.Module) -> int:
        return int(getattr(_text_config(model), self.n_layers_attr))

    def hidden_size(self, model: torch.nn.Module) -> int:
        return int(getattr(_text_config(model), self.hidden_attr))

    def mlp_out_weight(self, model: torch.nn.Module, layer: int) -> torch.nn.Parameter:
        return get_module(model, self.site("mlp_out", layer)).weight

    def as_out_in(self, weight: torch.Tensor) -> torch.Tensor:
        """View a projection weight as (out_features, in_features) whatever the layout."""
        return weight.T if self.layout is WeightLayout.CONV1D else weight

    def from_out_in(self, delta: torch.Tensor) -> torch.Tensor:
        """Convert an (out, in) update back to the module's own weight layout."""
        return delta.T if self.layout is WeightLayout.CONV1D else delta


def _text_config(model: torch.nn.Module):
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


_GPT2 = dict(
    layers="transformer.h",
    mlp="transformer.h.{}.mlp",
    attn="transformer.h.{}.attn",
    mlp_in="transformer.h.{}.mlp.c_fc",
    mlp_out="transformer.h.{}.mlp.c_proj",
    attn_out="transformer.h.{}.attn.c_proj",
    embed="transformer.wte",
    final_norm="transformer.ln_f",
    lm_head="lm_head",
    layout=WeightLayout.CONV1D,
    n_layers_attr="n_layer",
    hidden_attr="n_embd",
)
_LLAMA_LIKE = dict(
    layers="model.layers",
    mlp="model.layers.{}.mlp",
    attn="model.layers.{}.self_attn",
    mlp_in="model.layers.{}.mlp.up_proj",
    mlp_out="model.layers.{}.mlp.down_proj",
    attn_out="model.layers.{}.self_attn.o_proj",
    embed="model.embed_tokens",
    final_norm="model.norm",
    lm_head="lm_head",
    layout=WeightLayout.LINEAR,
    rotary="model.rotary_emb",
)
_GPTJ = dict(
    layers="transformer.h",
    mlp="transformer.h.{}.mlp",
    attn="transformer.h.{}.attn",
    mlp_in="transformer.h.{}.mlp.fc_in",
    mlp_out="transformer.h.{}.mlp.fc_out",
    attn_out="transformer.h.{}.attn.out_proj",
    embed="transformer.wte",
    final_norm="transformer.ln_f",
    lm_head="lm_head",
    layout=WeightLayout.LINEAR,
    n_layers_attr="n_layer",
    hidden_attr="n_embd",
)
_NEOX = dict(
    layers="gpt_neox.layers",
    mlp="gpt_neox.layers.{}.mlp",
    attn="gpt_neox.layers.{}.attention",
    mlp_in="gpt_neox.layers.{}.mlp.dense_h_to_4h",
    mlp_out="gpt_neox.layers.{}.mlp.dense_4h_to_h",
    attn_out="gpt_neox.layers.{}.attention.dense",
    embed="gpt_neox.embed_in",
    final_norm="gpt_neox.final_layer_norm",
    lm_head="lm_head",  # "embed_out" before transformers 5
    layout=WeightLayout.LINEAR,
)

ARCHITECTURES: dict[str, Architecture] = {
    "GPT2LMHeadModel": Architecture(model_class="GPT2LMHeadModel", **_GPT2),
    "LlamaForCausalLM": Architecture(model_class="LlamaForCausalLM", **_LLAMA_LIKE),
    "MistralForCausalLM": Architecture(model_class="MistralForCausalLM", **_LLAMA_LIKE),
    "Qwen2ForCausalLM": Architecture(model_class="Qwen2ForCausalLM", **_LLAMA_LIKE),
    "Gemma3ForCausalLM": Architecture(
        model_class="Gemma3ForCausalLM", **_LLAMA_LIKE, rotary_by_layer_type=True,
        mlp_out_norm="model.layers.{}.post_feedforward_layernorm",
    ),
    "GPTJForCausalLM": Architecture(model_class="GPTJForCausalLM", **_GPTJ),
    "GPTNeoXForCausalLM": Architecture(model_class="GPTNeoXForCausalLM", **_NEOX),
}


def architecture_of(model: torch.nn.Module) -> Architecture:
    """The table entry for a model instance, chosen by its class name (never by a name substring)."""
    name = type(model).__name__
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise UnsupportedArchitectureError(
            f"model class {name} is not in stylekg's architecture table",
            hint=(
                "add an Architecture entry for it to ARCHITECTURES in stylekg/lm/architectures.py "
                f"(known: {', '.join(sorted(ARCHITECTURES))})"
            ),
        ) from None


def get_module(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """A sub-module by dotted name, with an error that names what is missing."""
    try:
        return model.get_submodule(name)
    except AttributeError as exc:
        raise UnsupportedArchitectureError(
            f"{type(model).__name__} has no module {name!r}",
            hint="check the architecture table entry for this class",
        ) from exc
