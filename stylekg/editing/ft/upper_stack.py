"""Teacher-forced log-probabilities from the top of the model only, for fine-tuning its top blocks.

When only blocks ``first..L-1`` change, the residual stream entering block ``first`` is the same at every step:
it is computed once (no gradient) and each step runs just the trained blocks, the final norm and the head — the
head only at the positions that are scored. On SmolLM2 with blocks 24–27 trained, a step costs about a fifth of a
full forward and backward pass. The result equals :func:`stylekg.editing.ft.objective.token_logprobs` on the
same batch (up to float rounding; tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import torch

from ...lm.architectures import Architecture
from ...lm.blocks import BlockRunner, PrefixKV
from ...lm.hooks import Trace, output_tensor
from .objective import Batch, model_device


class UpperStack:
    """Cached residuals of some batches at block ``first``; :meth:`token_logprobs` runs the blocks above it."""

    def __init__(self, model: torch.nn.Module, arch: Architecture, first: int, batches: Sequence[Batch]) -> None:
        if first < 1:
            raise ValueError("the upper stack starts above the embeddings (first >= 1)")
        lm = SimpleNamespace(model=model, arch=arch, num_layers=arch.num_layers(model), device=model_device(model))
        self.runner = BlockRunner(lm)  # type: ignore[arg-type]
        self.first = first
        self._inputs: dict[int, torch.Tensor] = {id(b): self._residual(model, arch, b) for b in batches}

    @torch.no_grad()
    def _residual(self, model: torch.nn.Module, arch: Architecture, batch: Batch) -> torch.Tensor:
        batch = batch.to(model_device(model))
        with Trace(model, arch.site("residual", self.first - 1), stop=True, detach=True) as trace:
            model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        return output_tensor(trace.output).detach()

    def scored_logits(self, batch: Batch, rows: torch.Tensor | None = None) -> torch.Tensor:
        """(scored positions, vocab) logits that predict the scored tokens of ``batch`` (its ``rows``), in row-major
        order of ``predict[:, 1:]``, through the top blocks."""
        hidden = self._inputs[id(batch)]
        predict = batch.predict.to(hidden.device)
        if rows is not None:
            hidden, predict = hidden[rows], predict[rows]
        pos = self.runner.positions(0, hidden.shape[1], hidden)  # right padding: causal masks suffice
        for layer in range(self.first, self.runner.num_layers):
            hidden = self.runner.block(layer, hidden, pos, PrefixKV())
        r, c = predict[:, 1:].nonzero(as_tuple=True)
        return self.runner.logits(hidden[r, c]).float()

    def token_logprobs(self, batch: Batch, rows: torch.Tensor | None = None) -> torch.Tensor:
        """(rows, T-1) log-probabilities of the scored tokens of ``batch`` (0 elsewhere), through the top blocks."""
        hidden = self._inputs[id(batch)]
        ids, predict = batch.input_ids.to(hidden.device), batch.predict.to(hidden.device)
        if rows is not None:
            ids, predict = ids[rows], predict[rows]
        r, c = predict[:, 1:].nonzero(as_tuple=True)
        logp = torch.log_softmax(self.scored_logits(batch, rows), dim=-1)
        out = torch.zeros(predict.shape[0], predict.shape[1] - 1, device=hidden.device)
        out[r, c] = logp.gather(-1, ids[r, c + 1][:, None])[:, 0]
        return out
