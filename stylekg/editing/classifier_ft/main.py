"""Classifier-guided erasure of a semantic style (exaggeration, sadness: not tied to words).

A logistic probe (:mod:`.probe`) is fitted on the frozen model's hidden states of style vs
neutral sentences. The chosen layers are then fine-tuned on::

    L = CE(neutral texts) + lambda * mean_p  p_style(h_L(p ++ g_p))

where ``p`` runs over persona prompts, ``g_p`` is the original model's own greedy continuation of
``p`` (generated once, before training; ``generate_tokens = 0`` scores the prompts alone) and
``p_style`` is the probe's probability, differentiable through the model up to the probe layer
``L``. ``lambda`` trades erasure against fluency; :func:`sweep` runs several values.

Caveat (see docs/baselines.md): the probe is fixed, so the optimiser may move the hidden states
off the probe's direction without removing the style (it fools this classifier); judge the result
with an independent style measure.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import EditError
from ...lm.architectures import architecture_of
from ...requests import EditRequest
from ..finetune.material import StyleMaterial, resolve_material
from ..finetune.objective import mean_nll, model_device, text_batch
from ..finetune.train import optimise, weight_names
from ..penalty_ft.main import check_lambda
from ..result import EditResult
from .probe import StyleProbe, check_two_classes, fit_probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierFTHParams:
    layers: tuple[int, ...] = (0,)
    site: str = "mlp_out"
    probe_layer: int = 1  # residual stream (after this block) the classifier reads
    steps: int = 30
    lr: float = 5e-4
    lam: float = 1.0  # lambda: weight of the style loss against the neutral-text CE
    c: float = 1.0  # inverse L2 strength of the logistic probe
    generate_tokens: int = 8  # greedy continuation scored with each persona prompt (0 = prompt only)
    norm_constraint: float = math.inf
    max_len: int = 96

    def __post_init__(self) -> None:
        check_lambda(self.lam)
        if self.generate_tokens < 0:
            raise EditError(f"generate_tokens must be >= 0, got {self.generate_tokens}")


@dataclass(frozen=True)
class SweepPoint:
    """One lambda of a sweep: style probability and neutral-text NLL before/after (model restored)."""

    lam: float
    style_prob_before: float
    style_prob_after: float
    neutral_nll_before: float
    neutral_nll_after: float
    seconds: float


@torch.no_grad()
def persona_texts(model: torch.nn.Module, tokenizer, prompts: Sequence[str], n_tokens: int) -> list[str]:
    """Each prompt followed by the model's greedy continuation of ``n_tokens`` tokens."""
    if n_tokens == 0:
        return list(prompts)
    out = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt").to(model_device(model))
        gen = model.generate(**ids, max_new_tokens=n_tokens, do_sample=False, pad_token_id=pad)
        out.append(prompt + tokenizer.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: ClassifierFTHParams,
    *,
    material: StyleMaterial | None = None,
    graph: Any = None,
    style: str | None = None,
    style_texts: Sequence[str] | None = None,
    neutral_texts: Sequence[str] | None = None,
    persona_prompts: Sequence[str] | None = None,
    probe: StyleProbe | None = None,
    **_: object,
) -> EditResult:
    """Fine-tune the chosen layers to lower the probe's style probability on persona prompts."""
    started = time.perf_counter()
    check_lambda(hparams.lam)
    arch = architecture_of(model)
    mat = resolve_material(
        requests, material=material, graph=graph, style=style, style_texts=style_texts,
        neutral_texts=neutral_texts, persona_prompts=persona_prompts,
    )
    check_two_classes(mat.style, mat.style_texts, mat.neutral_texts)
    names = weight_names(model, arch, hparams.site, hparams.layers)
    layer = probe.layer if probe is not None else hparams.probe_layer
    if min(hparams.layers) > layer:
        raise EditError(
            f"trained layers {list(hparams.layers)} are all above the probe layer {layer}: the style loss "
            "cannot reach them", hint="train layers <= probe_layer",
        )
    if probe is None:
        probe = fit_probe(model, arch, tokenizer, mat.style_texts, mat.neutral_texts, layer,
                          c=hparams.c, max_len=hparams.max_len, style=mat.style)
    texts = persona_texts(model, tokenizer, mat.require_prompts(), hparams.generate_tokens)
    p_batch = text_batch(tokenizer, texts, hparams.max_len)
    n_batch = text_batch(tokenizer, mat.neutral_texts, hparams.max_len)
    result = EditResult(method="classifier-ft", requests=list(requests), model=model)

    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        ce = mean_nll(model, n_batch)
        style_loss = probe.score(model, arch, p_batch).mean()
        return ce + hparams.lam * style_loss, {"ce": float(ce.detach()), "style": float(style_loss.detach())}

    try:
        with torch.no_grad():
            before = (float(probe.score(model, arch, p_batch).mean()), float(mean_nll(model, n_batch)))
        history = optimise(model, result, names, loss_fn, steps=hparams.steps, lr=hparams.lr,
                           norm_constraint=hparams.norm_constraint, desc="classifier-ft")
        with torch.no_grad():
            after = (float(probe.score(model, arch, p_batch).mean()), float(mean_nll(model, n_batch)))
    except BaseException:
        result.restore()
        raise
    result.info.update(
        style=mat.style, layers=list(hparams.layers), weights=names, lam=hparams.lam, probe_layer=layer,
        probe_train_accuracy=probe.train_accuracy, persona_texts=texts,
        style_prob_before=before[0], style_prob_after=after[0], neutral_nll_before=before[1],
        neutral_nll_after=after[1], history=history, seconds=time.perf_counter() - started,
    )
    return result


def sweep(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: ClassifierFTHParams,
    lambdas: Sequence[float],
    **kw: Any,
) -> list[SweepPoint]:
    """Run :func:`apply` once per lambda (one shared probe), restoring the model after each."""
    if not lambdas:
        raise EditError("sweep needs at least one lambda")
    for lam in lambdas:
        check_lambda(lam)
    probe = kw.pop("probe", None)
    if probe is None:
        arch = architecture_of(model)
        mat = resolve_material(requests, **{k: kw[k] for k in (
            "material", "graph", "style", "style_texts", "neutral_texts") if k in kw})
        probe = fit_probe(model, arch, tokenizer, mat.style_texts, mat.neutral_texts, hparams.probe_layer,
                          c=hparams.c, max_len=hparams.max_len, style=mat.style)
    points = []
    for lam in lambdas:
        result = apply(model, tokenizer, requests, dataclasses.replace(hparams, lam=float(lam)), probe=probe, **kw)
        try:
            i = result.info
            points.append(SweepPoint(float(lam), i["style_prob_before"], i["style_prob_after"],
                                     i["neutral_nll_before"], i["neutral_nll_after"], i["seconds"]))
        finally:
            result.restore()
    return points
