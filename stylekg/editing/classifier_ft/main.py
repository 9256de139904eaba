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
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...errors import EditError
from ...lm.architectures import architecture_of
from ...material import StyleMaterial
from ...requests import EditRequest
from ..context import EditContext
from ..ft.material import resolve_material
from ..ft.objective import mean_nll, model_device, text_batch
from ..ft.train import optimise, weight_names
from ..penalty_ft.hparams import check_lambda
from ..result import EditResult
from .hparams import ClassifierFTHparams
from .probe import StyleProbe, check_two_classes, fit_probe

log = logging.getLogger(__name__)


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


def _material(requests: Sequence[EditRequest], context: EditContext | None) -> StyleMaterial:
    mat = resolve_material(requests, material=context.material if context else None)
    check_two_classes(mat.style, mat.style_texts, mat.neutral_texts)
    return mat


def _fit(model: torch.nn.Module, tokenizer, mat: StyleMaterial, hparams: ClassifierFTHparams) -> StyleProbe:
    """The probe on the unedited model's features of the material's style vs neutral texts."""
    return fit_probe(model, architecture_of(model), tokenizer, mat.style_texts, mat.neutral_texts,
                     hparams.probe_layer, c=hparams.c, max_len=hparams.max_len, style=mat.style)


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: ClassifierFTHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Fine-tune the chosen layers to lower the probe's style probability on persona prompts.

    Material is ``context.material`` merged with what the ``requests`` imply; the probe is fitted here on
    the unedited model (``probe_layer``, ``c``, ``max_len`` of ``hparams``).
    """
    started = time.perf_counter()
    check_lambda(hparams.lam)
    mat = _material(requests, context)
    _check_layers(hparams, hparams.probe_layer)
    return _erase(model, tokenizer, requests, hparams, mat, _fit(model, tokenizer, mat, hparams), started)


def _check_layers(hparams: ClassifierFTHparams, layer: int) -> None:
    if min(hparams.layers) > layer:
        raise EditError(
            f"trained layers {list(hparams.layers)} are all above the probe layer {layer}: the style loss "
            "cannot reach them", hint="train layers <= probe_layer",
        )


def _erase(
    model: torch.nn.Module, tokenizer, requests: Sequence[EditRequest], hparams: ClassifierFTHparams,
    mat: StyleMaterial, probe: StyleProbe, started: float | None = None,
) -> EditResult:
    """The fine-tuning itself, with a probe fitted at ``hparams.probe_layer`` (shared by :func:`apply` and
    :func:`sweep`, which check lambda and the layers first)."""
    started = time.perf_counter() if started is None else started
    arch = architecture_of(model)
    names = weight_names(model, arch, hparams.site, hparams.layers)
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
        style=mat.style, layers=list(hparams.layers), weights=names, lam=hparams.lam, probe_layer=probe.layer,
        probe_train_accuracy=probe.train_accuracy, persona_texts=texts,
        style_prob_before=before[0], style_prob_after=after[0], neutral_nll_before=before[1],
        neutral_nll_after=after[1], history=history, seconds=time.perf_counter() - started,
    )
    return result


def sweep(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: ClassifierFTHparams,
    lambdas: Sequence[float],
    context: EditContext | None = None,
) -> list[SweepPoint]:
    """Run the erasure once per lambda with one probe (fitted once), restoring the model after each."""
    if not lambdas:
        raise EditError("sweep needs at least one lambda")
    for lam in lambdas:
        check_lambda(lam)
    mat = _material(requests, context)
    _check_layers(hparams, hparams.probe_layer)
    probe = _fit(model, tokenizer, mat, hparams)
    points = []
    for lam in lambdas:
        result = _erase(model, tokenizer, requests, dataclasses.replace(hparams, lam=float(lam)), mat, probe)
        try:
            i = result.info
            points.append(SweepPoint(float(lam), i["style_prob_before"], i["style_prob_after"],
                                     i["neutral_nll_before"], i["neutral_nll_after"], i["seconds"]))
        finally:
            result.restore()
    return points
