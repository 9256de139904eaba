"""Run a model's transformer blocks directly: a range of blocks on given hidden states, or a *suffix* of positions
reusing cached keys/values.

Causal tracing restores one clean state at a time: restoring a clean state at (token t, layer l) leaves every position < t, at every layer, exactly
as in the corrupted run (attention is causal). So a restoration only needs layers >= l at
positions >= t, attending to the corrupted run's cached keys/values of positions < t. Differences
between architectures (rotary tables, sliding windows) come from the architecture table and the
HF config, never from the model's name. Fine-tuning the top blocks uses the same runner on the residual stream
that enters the lowest trained block, computed once (the frozen blocks below are not run again).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from .architectures import get_module
from .loading import LoadedModel


class PrefixKV:
    """The one cache method attention modules call, ``update(k, v, layer)``: prepend fixed
    keys/values of earlier positions and, when ``record`` is set, keep the new ones."""

    def __init__(self, prefix: tuple[torch.Tensor, torch.Tensor] | None = None, record: bool = False) -> None:
        self.prefix = prefix
        self.record = record
        self.recorded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args, **kwargs):
        if self.record:
            self.recorded[layer_idx] = (key, value)
        if self.prefix is not None and self.prefix[0].shape[-2]:
            key = torch.cat([self.prefix[0], key], dim=-2)
            value = torch.cat([self.prefix[1], value], dim=-2)
        return key, value

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0 if self.prefix is None else int(self.prefix[0].shape[-2])


@dataclass
class _Positions:
    position_ids: torch.Tensor
    masks: dict[str, torch.Tensor]  # by layer type
    rotary: dict[str, tuple[torch.Tensor, torch.Tensor]]  # by layer type (empty without rotary)


class BlockRunner:
    """Blocks, final norm and head of one model, callable on position suffixes."""

    def __init__(self, lm: LoadedModel) -> None:
        self.model = lm.model
        self.arch = lm.arch
        self.num_layers = lm.num_layers
        self.blocks = [get_module(lm.model, lm.arch.layer(i)) for i in range(self.num_layers)]
        self.final_norm = get_module(lm.model, lm.arch.final_norm)
        self.head = get_module(lm.model, lm.arch.lm_head)
        self.rotary = get_module(lm.model, lm.arch.rotary) if lm.arch.rotary else None
        cfg = lm.model.config.get_text_config() if hasattr(lm.model.config, "get_text_config") else lm.model.config
        types = getattr(cfg, "layer_types", None)
        self.layer_types: list[str] = list(types) if types else ["full_attention"] * self.num_layers
        self.sliding_window: int | None = getattr(cfg, "sliding_window", None)
        self.softcap: float | None = getattr(cfg, "final_logit_softcapping", None)
        # transformers renamed the block's cache argument (past_key_values -> cache); accept both
        names = inspect.signature(self.blocks[0].forward).parameters if self.blocks else {}
        self.cache_arg = "cache" if "cache" in names else "past_key_values"
        self.dtype = next(lm.model.parameters()).dtype
        self.device = lm.device

    def positions(self, start: int, stop: int, like: torch.Tensor) -> _Positions:
        """Position ids, additive causal masks and rotary tables for queries ``start..stop-1``."""
        q = torch.arange(start, stop, device=self.device)
        k = torch.arange(0, stop, device=self.device)
        distance = q[:, None] - k[None, :]
        neg = torch.finfo(self.dtype).min
        masks: dict[str, torch.Tensor] = {}
        for kind in set(self.layer_types):
            allowed = distance >= 0
            if kind == "sliding_attention" and self.sliding_window:
                allowed &= distance < self.sliding_window
            mask = torch.zeros(allowed.shape, dtype=self.dtype, device=self.device).masked_fill(~allowed, neg)
            masks[kind] = mask[None, None]
        position_ids = q[None]
        rotary: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if self.rotary is not None:
            for kind in set(self.layer_types):
                if self.arch.rotary_by_layer_type:
                    rotary[kind] = self.rotary(like, position_ids, kind)
                else:
                    rotary[kind] = self.rotary(like, position_ids=position_ids)
        return _Positions(position_ids, masks, rotary)

    def block(self, layer: int, hidden: torch.Tensor, pos: _Positions, cache: PrefixKV) -> torch.Tensor:
        """Block ``layer`` on ``hidden`` (rows, suffix, H); the cache supplies earlier positions."""
        kind = self.layer_types[layer]
        kwargs = {"attention_mask": pos.masks[kind], "position_ids": pos.position_ids, self.cache_arg: cache, "use_cache": True}
        if pos.rotary:
            kwargs["position_embeddings"] = pos.rotary[kind]
        out = self.blocks[layer](hidden, **kwargs)
        return out[0] if isinstance(out, tuple) else out

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final norm, unembedding and (where the config has it) logit soft-capping."""
        logits = self.head(self.final_norm(hidden))
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits
