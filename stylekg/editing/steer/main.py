"""Activation steering with a contrastive style direction (no weight is changed).

``add`` mode (ActAdd, Turner et al. 2023; contrastive means as in CAA, Rimsky et al. 2024): the
direction at a layer's residual output is ``v = mean(h | style texts) - mean(h | neutral texts)``
(token-level means), and every position's residual becomes ``h + strength * v`` (``strength < 0``
moves away from the style; ``strength = 1`` shifts a neutral mean onto the style mean).
``erase`` mode: the LEACE projection of :mod:`.leace` fitted on the same activations is applied
to every position, removing the linearly decodable style information (``strength`` is unused).

The intervention is a forward hook opened through :class:`stylekg.lm.hooks.Trace` and kept open
while the returned :class:`EditResult` is active: **the hook lives until ``result.restore()``**,
which closes it. Weights are never touched, so ``result.deltas`` is empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import torch

from ...errors import EditError
from ...lm.architectures import Architecture, architecture_of
from ...lm.hooks import Trace, output_tensor, replace_output_tensor
from ...lm.placement import input_device
from ...material import StyleMaterial
from ...requests import EditRequest
from ..context import EditContext
from ..ft.material import resolve_material
from ..ft.objective import text_batch
from ..result import EditResult
from .hparams import SteeringHparams
from .leace import fit_leace

log = logging.getLogger(__name__)


@torch.no_grad()
def collect_activations(
    model: torch.nn.Module, arch: Architecture, tokenizer, texts: Sequence[str], layer: int,
    *, skip_first_token: bool = True, max_len: int = 64,
) -> torch.Tensor:
    """(tokens, d) residual activations after block ``layer`` over every real token of ``texts``."""
    n = arch.num_layers(model)
    if not 0 <= layer < n:
        raise EditError(f"layer {layer} is not valid for this {n}-layer model", hint=f"use 0..{n - 1}")
    batch = text_batch(tokenizer, texts, max_len).to(input_device(model))
    with Trace(model, arch.site("residual", layer), stop=True, detach=True) as trace:
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    hidden = output_tensor(trace.output).float()
    mask = batch.attention_mask.bool()
    if skip_first_token and mask.shape[1] > 1:
        mask[:, 0] = mask[:, 0] & (mask.sum(dim=1) == 1)  # keep position 0 only for one-token texts
    return hidden[mask]


def _two_classes(mat: StyleMaterial) -> None:
    if not mat.style_texts or not mat.neutral_texts:
        raise EditError(
            f"steering for style {mat.style!r} needs style and neutral texts "
            f"(got {len(mat.style_texts)} style, {len(mat.neutral_texts)} neutral)",
            hint="add example sentences to the graph, or give the material style_texts and neutral_texts",
        )


def style_direction(
    model: torch.nn.Module, tokenizer, style_texts: Sequence[str], neutral_texts: Sequence[str], layer: int,
    *, skip_first_token: bool = True, max_len: int = 64,
) -> torch.Tensor:
    """``mean(h | style) - mean(h | neutral)`` at the residual output of ``layer``."""
    arch = architecture_of(model)
    _two_classes(StyleMaterial("", style_texts=tuple(style_texts), neutral_texts=tuple(neutral_texts)))
    kw = dict(skip_first_token=skip_first_token, max_len=max_len)
    pos = collect_activations(model, arch, tokenizer, style_texts, layer, **kw)
    neg = collect_activations(model, arch, tokenizer, neutral_texts, layer, **kw)
    return pos.mean(dim=0) - neg.mean(dim=0)


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: SteeringHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Fit the style direction (or eraser) and hook it in; ``result.restore()`` removes the hook.

    The style and neutral texts come from ``context.material`` merged with what the ``requests`` imply.
    """
    started = time.perf_counter()
    arch = architecture_of(model)
    mat = resolve_material(requests, material=context.material if context else None)
    _two_classes(mat)
    kw = dict(skip_first_token=hparams.skip_first_token, max_len=hparams.max_len)
    pos = collect_activations(model, arch, tokenizer, mat.style_texts, hparams.layer, **kw)
    neg = collect_activations(model, arch, tokenizer, mat.neutral_texts, hparams.layer, **kw)
    direction = pos.mean(dim=0) - neg.mean(dim=0)
    result = EditResult(method="steer", requests=list(requests), model=model)
    result.info.update(
        style=mat.style, layer=hparams.layer, mode=hparams.mode, strength=hparams.strength,
        direction_norm=float(direction.norm()), n_style_tokens=len(pos), n_neutral_tokens=len(neg),
    )
    if hparams.mode == "add":
        shift = (hparams.strength * direction).to(next(model.parameters()).dtype)

        def edit(output: Any, _layer: str) -> Any:
            h = output_tensor(output)
            return replace_output_tensor(output, h + shift.to(h.device))
    else:
        labels = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
        eraser = fit_leace(torch.cat([pos, neg]), labels)

        def edit(output: Any, _layer: str) -> Any:
            return replace_output_tensor(output, eraser(output_tensor(output)))

    trace = Trace(model, arch.site("residual", hparams.layer), retain_output=False, edit_output=edit)
    result.on_restore(trace.close)  # the hook lives until restore()
    result.info["seconds"] = time.perf_counter() - started
    return result
