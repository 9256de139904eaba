"""Logits for chosen positions only: the unembedding of a 49k-256k vocabulary is most of a small model's compute
when every position's logits are computed and a few are read."""

from __future__ import annotations

import torch


def head_logits(model: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """Logits of final hidden states (``base_model(...).last_hidden_state``, already through the final norm):
    the output embedding, then Gemma-style final soft-capping where the config has it (``cap * tanh(x / cap)``)."""
    logits = model.get_output_embeddings()(hidden)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits
