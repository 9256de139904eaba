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

Graph-guarded (``context.preserved`` non-empty, :mod:`stylekg.editing.common.guard`): requests sharing a key
share one value, which also keeps the preserved prompts of that key likely; the other preserved prompts' keys
K_p enter eq. 14 as ``guard_key_weight * K_p K_p^T``. An empty preserved set is the reference method.
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
from ..common.guard import GuardPlan, guarded_memit_update, plan_guard
from ..common.keys import position_keys
from ..context import EditContext, key_statistics
from ..result import EditResult
from .hparams import MEMITHparams

log = logging.getLogger(__name__)


def memit_update(keys: torch.Tensor, resid: torch.Tensor, cov: torch.Tensor, lam: float) -> torch.Tensor:
    """Delta = R K^T (lambda C + K K^T)^-1 (eq. 14); ``keys`` is (n, d_in), ``resid`` (d, n)."""
    return guarded_memit_update(keys, resid, cov, lam, None, 0.0)


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
    guard: GuardPlan | None = None,
    value_weight: float = 1.0,
) -> list[dict]:
    """MEMIT's Algorithm 1 with a pluggable per-layer solver (MEMIT or AlphaEdit).

    ``layer_update(layer, keys (n, d_in), resid (d, n), preserved_keys (m, d_in) | None) -> (out, in) update``;
    ``resid`` is in the out-projection's output space (mapped through ``arch.mlp_out_norm`` where the
    architecture has one). With a ``guard`` the solve sees one key per value unit (requests sharing a key share
    their value) and the key-side preserved prompts' keys.
    """
    all_requests = requests
    units = None
    if guard is not None and guard.active:
        units = guard.units
        requests = [all_requests[i] for i in guard.representatives]
    z_site = arch.site("residual", layers[-1])
    timings = result.info.setdefault("timings", {})
    t0 = time.perf_counter()
    value_args = {"units": units, "value_weight": value_weight} if units is not None else {}
    if arch.mlp_out_norm is None:
        deltas, init, logs = optimise_deltas(model, tokenizer, all_requests, z_site, prefixes, settings,
                                             **value_args)
        targets = init + deltas
    else:  # the value lives in down_proj's output space of the last layer; z follows through its norm
        top = layers[-1]
        deltas, m_init, logs = optimise_deltas(model, tokenizer, all_requests, arch.site("mlp_out", top), prefixes,
                                               settings, **value_args)
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
    key_side = list(guard.key_side) if guard is not None else []
    for i, layer in enumerate(layers):
        keys = compute_keys(model, tokenizer, arch, requests, [layer], prefixes, by_type=keys_by_context_type)[layer]
        preserved_keys = _preserved_keys(model, tokenizer, arch, key_side, layer, prefixes, keys_by_context_type)
        current = current_outputs(model, tokenizer, z_site, requests)
        share = (targets - current) / (len(layers) - i)  # (n, d) residual space
        if arch.mlp_out_norm is not None:
            norm = get_module(model, arch.site("mlp_out_norm", layer))
            share = residual_to_mlp_out(norm, current_outputs(model, tokenizer, arch.site("mlp_out", layer), requests), share)
        resid = share.T
        update = layer_update(layer, keys, resid, preserved_keys)
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
    if units is not None:  # one log per request: its unit's, with the unit's size
        by_request: dict[int, dict] = {}
        for u, (unit, entry) in enumerate(zip(units, logs)):
            for j in unit.edits:
                by_request[j] = {**entry, "unit": u, "unit_edits": len(unit.edits), "unit_retain": len(unit.retain)}
        logs = [by_request[j] for j in range(len(all_requests))]
    return logs


def _preserved_keys(model, tokenizer, arch: Architecture, key_side: list[EditRequest], layer: int, prefixes,
                    by_type: bool) -> torch.Tensor | None:
    """Keys the solve must leave unchanged: each key-side preserved prompt's subject key (read like a request's)
    and its keys at every token, read on the current model (lower layers may already be edited). The tokens
    before the subject are shared with edits of the same template ("The capital of"): the edited layers must
    not move them either, or the preserved prompt's answer moves through attention."""
    if not key_side:
        return None
    subject = compute_keys(model, tokenizer, arch, key_side, [layer], prefixes, by_type=by_type)[layer]
    tokens = position_keys(model, tokenizer, arch.site("mlp_out", layer), [r.text for r in key_side])
    return torch.cat([subject, tokens])


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
    preserved = context.preserved if context is not None else ()
    arch = architecture_of(model)
    layers = sorted(hparams.layers)
    check_layers(model, arch, layers)
    validate_requests(tokenizer, requests, hparams.essence_template)
    guard = plan_guard(tokenizer, list(requests), preserved, share_values=hparams.guard_share_values)
    result = EditResult(method="memit", requests=list(requests), model=model)
    started = time.perf_counter()
    try:
        t0 = time.perf_counter()
        stats = key_statistics(context, model, tokenizer, hparams).get(layers)
        result.info.setdefault("timings", {})["statistics"] = time.perf_counter() - t0
        covs = {layer: ridge(stats[layer], hparams.mom2_ridge) if hparams.mom2_ridge else stats[layer].double()
                for layer in layers}
        t0 = time.perf_counter()
        prefixes = context_prefixes(model, tokenizer, hparams.context_templates)
        result.info["timings"]["context_prefixes"] = time.perf_counter() - t0

        def solve(layer: int, keys: torch.Tensor, resid: torch.Tensor, preserved_keys: torch.Tensor | None) -> torch.Tensor:
            if preserved_keys is None:
                return memit_update(keys, resid, covs[layer], hparams.mom2_update_weight)
            return guarded_memit_update(keys, resid, covs[layer], hparams.mom2_update_weight, preserved_keys,
                                        hparams.guard_key_weight)

        logs = spread_edits(model, tokenizer, arch, requests, layers, prefixes, hparams.value_settings(), result, solve,
                            keys_by_context_type=hparams.keys_by_context_type, guard=guard,
                            value_weight=hparams.guard_value_weight)
        result.info.update(layers=layers, values=logs, seconds=time.perf_counter() - started,
                           guard=guard.info if guard.active else None)
    except BaseException:
        result.restore()
        raise
    return result
