"""ROME (Meng et al. 2022): rank-one rewrite of one MLP out-projection per fact.

For each request, in order (ROME is a single-fact method; several requests are applied one after
the other on the updated model):

* k*  = mean_j k(prefix_j + prompt) at the subject's last token            (ROME §3.1, eq. 3)
* v*  = W k* + delta, delta optimised so the model predicts the new object   (eq. 4)
* W  += (v* - W k*) (C^-1 k*)^T / ((C^-1 k*)^T k*)                          (eq. 2)

C = E[k k^T] comes from the context's :class:`~stylekg.editing.stats.KeyStatistics` (with a small relative ridge).
"""

from __future__ import annotations

import logging
import time

import torch

from ...lm.architectures import architecture_of
from ...requests import EditRequest
from ..common import (
    check_layers,
    compute_keys,
    context_prefixes,
    mlp_out_param,
    optimise_deltas,
    ridge,
    validate_requests,
)
from ..context import EditContext, key_statistics
from ..result import EditResult
from .hparams import ROMEHparams

log = logging.getLogger(__name__)


def rank_one_update(delta: torch.Tensor, key: torch.Tensor, cov: torch.Tensor | None) -> torch.Tensor:
    """(out, in) float64 update U with U k* = delta and U = delta u^T / (u^T k*), u = C^-1 k* (eq. 2)."""
    key = key.double()
    u = torch.linalg.solve(cov.to(key.device), key) if cov is not None else key  # C: from the CPU stats cache
    return torch.outer(delta.double(), u) / (u @ key)


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: list[EditRequest],
    hparams: ROMEHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Apply ROME for each request; on any error the model is restored and the error re-raised.

    C comes from ``context.stats`` (a :class:`~stylekg.editing.stats.KeyStatistics` provider, or a mapping
    holding the edited layer); otherwise it is measured from ``context.corpus`` (default: ``corpora.py``).
    """
    arch = architecture_of(model)
    layer = hparams.layer
    check_layers(model, arch, [layer])
    validate_requests(tokenizer, requests, hparams.essence_template)
    result = EditResult(method="rome", requests=list(requests), model=model)
    started = time.perf_counter()
    try:
        cov = None
        if hparams.mom2_adjustment:
            c = key_statistics(context, model, tokenizer, hparams).get([layer])[layer]
            cov = ridge(c, hparams.mom2_ridge) if hparams.mom2_ridge else c.double()
        prefixes = context_prefixes(model, tokenizer, hparams.context_templates)
        site = arch.site("mlp_out", layer)
        name = mlp_out_param(arch, layer)
        logs = []
        for request in requests:
            key = compute_keys(model, tokenizer, arch, [request], [layer], prefixes,
                               by_type=hparams.keys_by_context_type)[layer][0]
            delta, _, lg = optimise_deltas(model, tokenizer, [request], site, prefixes, hparams.value_settings())
            update = rank_one_update(delta[0], key, cov)
            result.add_delta(model, name, arch.from_out_in(update))
            logs += lg
        result.info.update(layers=[layer], values=logs, seconds=time.perf_counter() - started)
    except BaseException:
        result.restore()
        raise
    return result
