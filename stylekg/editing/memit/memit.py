"""MEMIT (Meng et al. 2023): many edits at once, spread over a range of MLP layers.

1. For each request, z_i = h_i^L + delta_i: delta_i optimised at the residual output of the last
   critical layer L (eq. 16, shared with ROME in :mod:`stylekg.editing.common.values`).
2. For each layer l of the range, bottom-up, on the updated model:
   K = keys at l (averaged within each context type, then across types: ``compute_ks``),
   R = (z - h^L) / (layers left)                                                   (Alg. 1)
   Delta = R K^T (lambda C + K K^T)^-1, solved in float64                          (eq. 14)

Architectures with a norm between the MLP out-projection and the residual (Gemma 3's
``post_feedforward_layernorm``, ``Architecture.mlp_out_norm``) receive norm(W k), not W k. There the
value is optimised in down_proj's output space of the last layer L (like ROME's; the clamp is relative
to that output), z = h^L + norm(m_L + delta) - norm(m_L) is the residual change it makes (reachable by
construction), and each layer's share R is mapped into that layer's down_proj output space
(:func:`residual_to_mlp_out`) before the solve, so the update is scaled for the space W writes into.
"""

from __future__ import annotations

import logging
import time

import torch

from ...lm.architectures import Architecture, architecture_of, get_module
from ...lm.placement import execution_device
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
    a = lam * cov.to(keys.device) + keys.T @ keys  # C comes from the CPU statistics cache
    x = torch.linalg.solve(a, keys.T)  # (d_in, n) = A^-1 K
    return resid.double() @ x.T


def residual_to_mlp_out(norm: torch.nn.Module, mlp_out: torch.Tensor, resid: torch.Tensor) -> torch.Tensor:
    """Changes dm of the out-projection's outputs m (n, d) with norm(m + dm) ~= norm(m) + r, r = ``resid`` (n, d).

    ``norm`` is an RMS norm with an elementwise gain g: norm(x) = g * x / rms(x). It cannot change
    the scale of its output, so the target y = norm(m) + r is reached up to a factor 1/rms(y/g) (1 to
    first order in r): x = c * y / g, with c = <u, m> / <u, u> (u = y / g), the scale closest to m.
    The bottom-up MEMIT loop measures what each layer really achieved, so later layers make up the rest.
    """
    m = mlp_out.to(torch.float64)
    with torch.no_grad():
        ones = torch.ones(1, m.shape[1], dtype=next(norm.parameters()).dtype, device=execution_device(norm))
        gain = norm(ones).to(m.device, torch.float64)[0]  # g / sqrt(1 + eps): exact to ~1e-6 relative
        current = norm(mlp_out.to(ones.device, ones.dtype)).to(m.device, torch.float64)
    gain = torch.where(gain.abs() < 1e-6, torch.full_like(gain, 1e-6), gain)
    u = (current + resid.to(torch.float64)) / gain
    c = ((u * m).sum(1) / (u * u).sum(1).clamp_min(1e-30)).clamp_min(1e-12)
    return c[:, None] * u - m


def spread_edits(
    model: torch.nn.Module,
    tokenizer,
    arch: Architecture,
    requests: list[EditRequest],
    layers: list[int],
    prefixes,
    settings,
    result: EditResult,
    layer_update,
    *,
    keys_by_context_type: bool = True,
) -> list[dict]:
    """MEMIT's Algorithm 1 with a pluggable per-layer solver (MEMIT or AlphaEdit).

    ``layer_update(layer, keys (n, d_in), resid (d, n)) -> (out, in) update``; ``resid`` is in the
    out-projection's output space (mapped through ``arch.mlp_out_norm`` where the architecture has one).
    """
    z_site = arch.site("residual", layers[-1])
    timings = result.info.setdefault("timings", {})
    t0 = time.perf_counter()
    if arch.mlp_out_norm is None:
        deltas, init, logs = optimise_deltas(model, tokenizer, requests, z_site, prefixes, settings)
        targets = init + deltas
    else:  # the value lives in down_proj's output space of the last layer; z follows through its norm
        top = layers[-1]
        deltas, m_init, logs = optimise_deltas(model, tokenizer, requests, arch.site("mlp_out", top), prefixes, settings)
        norm = get_module(model, arch.site("mlp_out_norm", top))
        with torch.no_grad():
            dtype = next(norm.parameters()).dtype
            at = execution_device(norm)
            moved = norm((m_init + deltas).to(at, dtype)).float() - norm(m_init.to(at, dtype)).float()
            moved = moved.to(m_init.device)
        init = current_outputs(model, tokenizer, z_site, requests)
        targets = init + moved
        deltas = moved
    timings["values"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, layer in enumerate(layers):
        keys = compute_keys(model, tokenizer, arch, requests, [layer], prefixes, by_type=keys_by_context_type)[layer]
        current = current_outputs(model, tokenizer, z_site, requests)
        share = (targets - current) / (len(layers) - i)  # (n, d) residual space
        if arch.mlp_out_norm is not None:
            norm = get_module(model, arch.site("mlp_out_norm", layer))
            share = residual_to_mlp_out(norm, current_outputs(model, tokenizer, arch.site("mlp_out", layer), requests), share)
        resid = share.T
        update = layer_update(layer, keys, resid)
        result.add_delta(model, mlp_out_param(arch, layer), arch.from_out_in(update))
        log.info(
            "layer %d: residual norm %.3f, update norm %.3f",
            layer, float(resid.norm(dim=0).mean()), float(update.norm()),
        )
    timings["keys_and_solves"] = time.perf_counter() - t0
    final = current_outputs(model, tokenizer, z_site, requests)
    missed = ((targets - final).norm(dim=1) / deltas.norm(dim=1).clamp_min(1e-12)).tolist()
    for entry, miss in zip(logs, missed):
        entry["target_missed"] = float(miss)  # ||z - h^L|| / ||delta|| after all layers (0: reached)
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
    validate_requests(tokenizer, requests, hparams.essence_template)
    result = EditResult(method="memit", requests=list(requests), model=model)
    started = time.perf_counter()
    try:
        t0 = time.perf_counter()
        stats = load_stats(model, tokenizer, layers, hparams, stats, corpus)
        result.info.setdefault("timings", {})["statistics"] = time.perf_counter() - t0
        covs = {layer: ridge(stats[layer], hparams.mom2_ridge) if hparams.mom2_ridge else stats[layer].double()
                for layer in layers}
        t0 = time.perf_counter()
        prefixes = context_prefixes(model, tokenizer, hparams.context_templates)
        result.info["timings"]["context_prefixes"] = time.perf_counter() - t0

        def solve(layer: int, keys: torch.Tensor, resid: torch.Tensor) -> torch.Tensor:
            return memit_update(keys, resid, covs[layer], hparams.mom2_update_weight)

        logs = spread_edits(model, tokenizer, arch, requests, layers, prefixes, hparams.value_settings(), result, solve,
                            keys_by_context_type=hparams.keys_by_context_type)
        result.info.update(layers=layers, values=logs, seconds=time.perf_counter() - started)
    except BaseException:
        result.restore()
        raise
    return result
