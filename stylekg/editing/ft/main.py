"""FT-L: fine-tune chosen layers on the requests' new targets, inside an L-infinity ball.

Objective (ROME paper, FT-L baseline): ``min_W  -1/N sum_r 1/|o_r| log P_W(o_r | p_r)`` subject to
``||W - W_0||_inf <= eps``, where ``p_r`` is the request's prompt with its subject filled in and
``o_r`` its ``target_new`` continuation (every token, teacher-forced).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import torch

from ...errors import EditError
from ...lm.architectures import architecture_of
from ...requests import EditRequest
from ..context import EditContext
from ..result import EditResult
from .hparams import FTHparams
from .objective import continuation_batch, mean_nll, sequence_logprob
from .train import optimise, weight_names

log = logging.getLogger(__name__)


def request_batch(tokenizer, requests: Sequence[EditRequest], max_len: int = 128):
    """The (prompt, target_new) pairs of the requests, plus their paraphrase prompts."""
    if not requests:
        raise EditError(
            "no edit requests given", hint="fine-tuning trains towards each request's target_new; pass EditRequests"
        )
    missing = [r.case_id or r.text for r in requests if r.target_new is None]
    if missing:
        raise EditError(f"request {missing[0]!r} has no target_new to fine-tune towards")
    prompts = [r.text for r in requests]
    targets = [r.target_new for r in requests]
    return continuation_batch(tokenizer, prompts, targets, max_len)  # type: ignore[arg-type]


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: FTHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Constrained fine-tuning towards every request's ``target_new``; returns an undoable result.

    FT-L trains on the requests alone: ``context`` is accepted for the common contract and not read.
    """
    started = time.perf_counter()
    arch = architecture_of(model)
    names = weight_names(model, arch, hparams.site, hparams.layers)
    batch = request_batch(tokenizer, requests, hparams.max_len)
    result = EditResult(method="ft", requests=list(requests), model=model)
    try:
        with torch.no_grad():
            before = sequence_logprob(model, batch).tolist()
        history = optimise(
            model, result, names, lambda: (mean_nll(model, batch), {}),
            steps=hparams.steps, lr=hparams.lr, norm_constraint=hparams.norm_constraint,
            weight_decay=hparams.weight_decay, early_stop_loss=hparams.early_stop_loss, desc="ft",
        )
        with torch.no_grad():
            after = sequence_logprob(model, batch).tolist()
    except BaseException:
        result.restore()
        raise
    result.info.update(
        layers=list(hparams.layers), site=hparams.site, weights=names, steps_run=len(history),
        loss_history=[h["loss"] for h in history], target_logprob_before=before, target_logprob_after=after,
        seconds=time.perf_counter() - started,
    )
    return result
