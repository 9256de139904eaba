"""AlphaEdit (Fang et al., ICLR 2025): MEMIT's update projected onto the null space of preserved keys.

Same value targets and layer spreading as MEMIT (:func:`stylekg.editing.memit.spread_edits`); the
per-layer solve is :func:`alphaedit_update`. Sequential editing: pass the same :class:`KeyCache`
to successive ``apply`` calls as ``EditContext(key_cache=...)``; the keys of earlier edits
(K_p K_p^T) enter later solves so later edits do not undo earlier ones. Preserved knowledge K0 is the key statistics of the corpus.

Graph-guarded (``context.preserved`` non-empty, :mod:`stylekg.editing.common.guard`): values as MEMIT's guard;
the key-side preserved prompts' keys are removed from the null space exactly (:func:`exclude_keys`): the
update leaves W k_p unchanged for every one of them. An empty preserved set is the reference method.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from ...errors import EditError
from ...lm.architectures import architecture_of
from ...requests import EditRequest
from ..common import check_layers, context_prefixes, validate_requests
from ..common.guard import exclude_keys, plan_guard
from ..context import EditContext, key_statistics
from ..memit.main import spread_edits
from ..result import EditResult
from .hparams import AlphaEditHparams
from .projection import NullSpace, alphaedit_update, null_space

log = logging.getLogger(__name__)


@dataclass
class KeyCache:
    """K_p K_p^T per layer for sequential editing, plus the projections (computed once)."""

    previous: dict[int, torch.Tensor] = field(default_factory=dict)
    spaces: dict[int, NullSpace] = field(default_factory=dict)
    edits: int = 0


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: list[EditRequest],
    hparams: AlphaEditHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Apply all requests at once with AlphaEdit.

    ``context.key_cache`` (a :class:`KeyCache`) carries earlier edits' keys for sequential editing (a fresh
    one when absent); ``context.stats`` / ``context.corpus`` give the preserved keys' C as for MEMIT.
    """
    cache = context.key_cache if context is not None else None
    preserved = context.preserved if context is not None else ()
    if cache is None:
        cache = KeyCache()
    elif not isinstance(cache, KeyCache):
        raise EditError(f"context.key_cache must be an alphaedit.KeyCache, got {type(cache).__name__}",
                        hint="pass EditContext(key_cache=alphaedit.KeyCache()) and reuse it across calls")
    arch = architecture_of(model)
    layers = sorted(hparams.layers)
    check_layers(model, arch, layers)
    validate_requests(tokenizer, requests, hparams.essence_template)
    guard = plan_guard(tokenizer, list(requests), preserved, share_values=hparams.guard_share_values)
    result = EditResult(method="alphaedit", requests=list(requests), model=model)
    started = time.perf_counter()
    added: dict[int, torch.Tensor] = {}
    try:
        missing = [layer for layer in layers if layer not in cache.spaces]
        if missing:
            stats = key_statistics(context, model, tokenizer, hparams).get(missing)
            for layer in missing:
                space = null_space(
                    stats[layer], mode=hparams.nullspace_mode, threshold=hparams.nullspace_threshold,
                    energy=hparams.nullspace_energy,
                )
                if space.kept == 0:
                    raise EditError(
                        f"the {hparams.nullspace_mode} null-space rule keeps no direction at layer {layer}",
                        hint="raise nullspace_threshold (eigenvalues of E[k k^T] below it are 'zero'), or use nullspace_mode = \"energy\"",
                    )
                log.info("layer %d: null space keeps %d/%d directions", layer, space.kept, space.dim)
                cache.spaces[layer] = space
        prefixes = context_prefixes(model, tokenizer, hparams.context_templates)

        def solve(layer: int, keys: torch.Tensor, resid: torch.Tensor, preserved_keys: torch.Tensor | None) -> torch.Tensor:
            space = cache.spaces[layer]
            p = space.projection.to(keys.device)
            if preserved_keys is not None:
                p = exclude_keys(p, preserved_keys, max_rank=hparams.guard_max_rank)
            previous = cache.previous.get(layer)
            if previous is None:
                previous = torch.zeros_like(p)
            added[layer] = keys.double().T @ keys.double()
            return alphaedit_update(keys, resid, p, previous.to(keys.device), hparams.l2)

        logs = spread_edits(model, tokenizer, arch, requests, layers, prefixes, hparams.value_settings(), result, solve,
                            keys_by_context_type=hparams.keys_by_context_type, guard=guard,
                            value_weight=hparams.guard_value_weight)
        for layer, kk in added.items():  # only once every layer succeeded
            cache.previous[layer] = cache.previous.get(layer, torch.zeros_like(kk)) + kk
        cache.edits += len(requests)
        result.info.update(
            layers=layers,
            values=logs,
            null_space={layer: cache.spaces[layer].kept for layer in layers},
            guard=guard.info if guard.active else None,
            seconds=time.perf_counter() - started,
        )
    except BaseException:
        result.restore()
        raise
    return result
