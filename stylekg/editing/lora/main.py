"""LoRA (Hu et al. 2022) on chosen projections, trained on the FT objective, then merged.

Each adapted weight becomes ``W = W_0 + (alpha / r) B A`` with ``B`` (out x r) zero-initialised and
``A`` (r x in) random; only ``A`` and ``B`` are trained, on ``-1/N sum_r 1/|o_r| log P(o_r | p_r)``
(the FT-L objective, see :mod:`stylekg.editing.ft.main`). The adapters come from ``peft``;
after training they are merged and unloaded, which puts the *same* module objects back into the
caller's model. The merged change is then re-expressed as an :class:`EditResult` delta on top of the
exact original weights, so ``restore()`` is bit-identical and nothing of ``peft`` remains.

With a preserved set (``context.preserved``) and ``retain_weight`` > 0 the objective gains ``retain_weight * R``,
the KL to the unedited model at the preserved answers' tokens (:mod:`..common.retain`), on ``retain_rows`` items
per step; without one it is exactly the FT-L objective above.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import torch

from ...errors import EditError
from ...lm.architectures import WeightLayout, architecture_of, get_module
from ...requests import EditRequest
from ..common.retain import RetainLoss, full_model_logits, preserved_batch
from ..context import EditContext
from ..ft.main import request_batch
from ..ft.objective import mean_nll, sequence_logprob
from ..ft.train import only_trainable, weight_names
from ..result import EditResult
from .hparams import LoRAHparams

log = logging.getLogger(__name__)
ADAPTER = "stylekg"


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: LoRAHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Train LoRA adapters towards every request's ``target_new``, merge them, return the deltas.

    ``context.preserved`` (when ``retain_weight`` > 0) adds the retain loss; nothing else of ``context`` is read.
    """
    from peft import LoraConfig, LoraModel

    started = time.perf_counter()
    arch = architecture_of(model)
    names = [n for site in hparams.sites for n in weight_names(model, arch, site, hparams.layers)]
    modules = [n.removesuffix(".weight") for n in names]
    objects = {m: get_module(model, m) for m in modules}
    batch = request_batch(tokenizer, requests, hparams.max_len)
    result = EditResult(method="lora", requests=list(requests), model=model)
    for name in names:
        result.record_original(model, name)
    config = LoraConfig(
        r=hparams.rank, lora_alpha=hparams.alpha, lora_dropout=0.0, bias="none", target_modules=modules,
        fan_in_fan_out=arch.layout is WeightLayout.CONV1D,
    )
    flags = [(p, p.requires_grad) for p in model.parameters()]
    tuner = None
    history: list[float] = []
    preserved = context.preserved if context is not None else ()
    retain = None
    try:
        with torch.no_grad():
            before = sequence_logprob(model, batch).tolist()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hparams.seed)
            tuner = LoraModel(model, config, ADAPTER)  # injects adapters into `model` in place
        adapters = [p for n, p in model.named_parameters() if "lora_" in n and ADAPTER in n]
        retain = (RetainLoss(preserved_batch(tokenizer, preserved, hparams.max_len), full_model_logits(model),
                             adapters, rows=hparams.retain_rows, seed=hparams.seed)
                  if preserved and hparams.retain_weight > 0 else None)  # theta_0: B = 0, the unedited model
        with only_trainable(model, adapters):
            opt = torch.optim.Adam(adapters, lr=hparams.lr)
            for _ in range(hparams.steps):
                opt.zero_grad(set_to_none=True)
                # the retain term first: its reference pass swaps the adapters, which a built graph must not see
                kept = hparams.retain_weight * retain() if retain is not None else None
                nll = mean_nll(model, batch)
                loss = nll + kept if kept is not None else nll
                history.append(float(loss.detach()))
                if float(nll.detach()) < hparams.early_stop_loss:  # the requests are learnt (the retain term aside)
                    break
                loss.backward()
                opt.step()
        with torch.no_grad():
            merged = tuner.merge_and_unload(safe_merge=True)  # W_0 + (alpha/r) B A, back in the same modules
            tuner = None
            if merged is not model or any(get_module(model, m) is not objects[m] for m in modules):
                raise EditError("peft did not unload back into the caller's modules", hint="check the peft version")
            for name in names:  # re-express the merge as a delta on top of the exact original
                param = model.get_parameter(name)
                delta = param.detach() - result.originals[name]
                param.copy_(result.originals[name])
                result.add_delta(model, name, delta)
            after = sequence_logprob(model, batch).tolist()
    except BaseException:
        if tuner is not None:
            tuner.unload()  # drop the adapters without merging
        result.restore()
        raise
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    result.info.update(
        layers=list(hparams.layers), sites=list(hparams.sites), weights=names, rank=hparams.rank,
        adapter_params=sum(int(p.numel()) for p in adapters),
        n_preserved=len(preserved) if retain is not None else 0, retain_weight=hparams.retain_weight, steps_run=len(history), loss_history=history,
        target_logprob_before=before, target_logprob_after=after, seconds=time.perf_counter() - started,
    )
    return result
