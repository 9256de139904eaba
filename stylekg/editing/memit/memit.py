"""MEMIT (Meng et al. 2023): many edits at once, spread over a range of MLP layers.

1. For each request, z_i = h_i^L + delta_i: delta_i optimised at the residual output of the last
   critical layer L (eq. 16, shared with ROME in :mod:`stylekg.editing.common.values`).
2. For each layer l of the range, bottom-up, on the updated model:
   K = keys at l (averaged over context prefixes), R = (z - h^L) / (layers left)   (Alg. 1)
   Delta = R K^T (lambda C + K K^T)^-1, solved in float64                          (eq. 14)
"""

from __future__ import annotations

import logging
import time

import torch

from ...lm.architectures import Architecture, architecture_of
from ...requests import EditRequest
from ..common import (
    check_layers,
    compute_keys,
    context_prefixes,
    current_outputs,
    mlp_out_param,
    optimise_deltas,
    ridge,
    validate_requests,
)
from ..context import EditContext
from ..result import EditResult
from ..stats import key_second_moments
from .hparams import MEMITHparams

log = logging.getLogger(__name__)


def memit_update(keys: torch.Tensor, resid: torch.Tensor, cov: torch.Tensor, lam: float) -> torch.Tensor:
    """Delta = R K^T (lambda C + K K^T)^-1 (eq. 14); ``keys`` is (n, d_in), ``resid`` (d, n)."""
    keys = keys.double()
    a = lam * cov + keys.T @ keys
    x = torch.linalg.solve(a, keys.T)  # (d_in, n) = A^-1 K
    return resid.double() @ x.T


def spread_edits(
    model: torch.nn.Module,
    tokenizer,
    arch: Architecture,
    requests: list[EditRequest],
    layers: list[int],
    prefixes: list[str],
    settings,
    result: EditResult,
    layer_update,
) -> list[dict]:
    """MEMIT's Algorithm 1 with a pluggable per-layer solver (MEMIT or AlphaEdit).

    ``layer_update(layer, keys (n, d_in), resid (d, n)) -> (out, in) update``.
    """
    z_site = arch.site("residual", layers[-1])
    deltas, init, logs = optimise_deltas(model, tokenizer, requests, z_site, prefixes, settings)
    targets = init + deltas
    for i, layer in enumerate(layers):
        keys = compute_keys(model, tokenizer, arch, requests, [layer], prefixes)[layer]
        current = current_outputs(model, tokenizer, z_site, requests)
        resid = (targets - current).T / (len(layers) - i)
        update = layer_update(layer, keys, resid)
        result.add_delta(model, mlp_out_param(arch, layer), arch.from_out_in(update))
        log.info(
            "layer %d: residual norm %.3f, update norm %.3f",
            layer, float(resid.norm(dim=0).mean()), float(update.norm()),
        )
    return logs


def load_stats(model, tokenizer, layers, hparams, stats, corpus) -> dict[int, torch.Tensor]:
    """The given stats, or E[k k^T] for every missing layer in one cached pass."""
    stats = dict(stats or {})
    missing = [layer for layer in layers if layer not in stats]
    if missing:
        stats.update(
            key_second_moments(
                model, tokenizer, missing, samples=hparams.stats_samples, corpus=corpus,
                dtype=getattr(torch, hparams.stats_dtype),
            )
        )
    return stats


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: list[EditRequest],
    hparams: MEMITHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Apply all requests at once with MEMIT; on any error the model is restored and it re-raises.

    ``context.stats`` supplies C per layer; missing layers are computed from ``context.corpus``.
    """
    stats = context.stats if context is not None else None
    corpus = context.corpus if context is not None else None
    arch = architecture_of(model)
    layers = sorted(hparams.layers)
    check_layers(model, arch, layers)
    validate_requests(tokenizer, requests)
    result = EditResult(method="memit", requests=list(requests), model=model)
    started = time.perf_counter()
    try:
        stats = load_stats(model, tokenizer, layers, hparams, stats, corpus)
        covs = {layer: ridge(stats[layer], hparams.mom2_ridge) for layer in layers}
        prefixes = context_prefixes(model, tokenizer, hparams.context_templates)

        def solve(layer: int, keys: torch.Tensor, resid: torch.Tensor) -> torch.Tensor:
            return memit_update(keys, resid, covs[layer], hparams.mom2_update_weight)

        logs = spread_edits(model, tokenizer, arch, requests, layers, prefixes, hparams.value_settings(), result, solve)
        result.info.update(layers=layers, values=logs, seconds=time.perf_counter() - started)
    except BaseException:
        result.restore()
        raise
    return result
