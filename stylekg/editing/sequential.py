"""Sequential editing: requests applied in batches, each batch on the model the earlier ones edited.

This is the setting AlphaEdit (Fang et al., ICLR 2025, §4) is built for and the one its reference code
evaluates (``--sequential`` edits of ``num_edits`` each): the key statistics C (and so AlphaEdit's
null-space projection) come from the *unedited* model, once, before the first batch. A method whose spec
declares ``sequential_state`` gets one fresh state, carried through ``context.key_cache`` from batch to batch
(AlphaEdit's :class:`~stylekg.editing.alphaedit.KeyCache`: the keys of earlier batches enter later solves).
The batches' deltas add up into one :class:`~stylekg.editing.result.EditResult` whose ``restore()`` brings
back the unedited weights exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from ..errors import EditError
from ..lm.placement import compute_dtype, weight_tensor
from ..requests import EditRequest
from .context import EditContext
from .registry import Need, get_method
from .result import EditResult

log = logging.getLogger(__name__)

OnBatch = Callable[[int, EditResult], None]


def apply_sequentially(
    method: str,
    apply: Callable[..., EditResult],
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: Any,
    batch: int,
    context: EditContext | None = None,
    on_batch: OnBatch | None = None,
) -> EditResult:
    """Apply ``requests`` ``batch`` at a time, in order, on the progressively edited model.

    ``method`` is the registered id: its spec says whether it reads key statistics and carries state.

    ``on_batch(edits_so_far, combined_result)`` runs after each batch (e.g. to measure after 1, 10, 50
    edits). On any error every batch applied so far is undone and the error re-raised.
    """
    if batch < 1:
        raise EditError(f"--batch must be at least 1, got {batch}")
    if not requests:
        raise EditError("no edit requests given", hint="pass at least one EditRequest")
    spec = get_method(method)
    context = replace(context) if context is not None else EditContext()
    if Need.STATISTICS in spec.needs:  # C of the unedited model, once, before any edit
        stats = context.key_statistics(model, tokenizer, hparams)
        stats.get(hparams.stats_layers())
        context = replace(context, stats=stats)
    if spec.sequential_state is not None and context.key_cache is None:
        context.key_cache = spec.sequential_state()
    combined = EditResult(method=method, requests=list(requests), model=model)
    started = time.perf_counter()
    batches = []
    try:
        for start in range(0, len(requests), batch):
            chunk = list(requests[start : start + batch])
            result = apply(model, tokenizer, chunk, hparams, context)
            batches.append(result)
            for name, original in result.originals.items():
                combined.originals.setdefault(name, original)
            for name, delta in result.deltas.items():
                combined.deltas[name] = combined.deltas.get(name, torch.zeros_like(delta)) + delta
                weight = weight_tensor(model, name)
                if compute_dtype(weight.dtype) != weight.dtype:  # bf16/fp16: rounded once per batch, so keep the
                    # float32 difference of the bits now there, which re-applied to the original gives them again
                    wide = compute_dtype(weight.dtype)
                    combined.deltas[name] = weight.detach().to(wide) - combined.originals[name].to(wide)
            combined.info.setdefault("batches", []).append(
                {"edits": start + len(chunk), "seconds": result.info.get("seconds")})
            log.info("sequential %s: %d/%d edits applied", method, start + len(chunk), len(requests))
            if on_batch is not None:
                on_batch(start + len(chunk), combined)
    except BaseException:
        for result in reversed(batches):
            result.restore()
        raise
    for result in batches:  # the combined result now owns the undo (its originals are the unedited weights)
        result.restored = True
    combined.info.update(sequential_batch=batch, seconds=time.perf_counter() - started,
                         layers=batches[-1].info.get("layers") if batches else None)
    return combined
