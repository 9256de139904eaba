"""Penalty fine-tuning for erasing a lexical style.

Loss (per step), with neutral texts ``x``, persona prompts ``p``, marker phrases ``m`` and their
graph weights ``w_m``::

    L = CE(x) + lambda * sum_m w_m * mean_p pen(P(m | p)) / sum_m w_m
    P(m | p) = prod_i P(m_i | p, m_<i)          (the whole phrase, teacher-forced)

with ``pen`` one of ``prob`` (``P``), ``unlikelihood`` (``-log(1 - P)``, sequence-level unlikelihood
training, Welleck et al. 2020) or ``log-hinge`` (``max(0, log P - log(rho * P_0))``: pushes each
phrase's probability below ``rho`` times its probability ``P_0`` before the edit, then stops; scale
free, so one ``rho`` fits phrases of any length). The CE term keeps the model fluent on neutral
text; only the chosen layers' projection weights move (optionally L-inf bounded).
"""

from __future__ import annotations

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
from ..finetune.objective import Batch, marker_batch, mean_nll, sequence_logprob, text_batch
from ..finetune.train import optimise, weight_names
from ..result import EditResult

log = logging.getLogger(__name__)
PENALTIES = ("prob", "unlikelihood", "log-hinge")


@dataclass(frozen=True)
class PenaltyFTHParams:
    layers: tuple[int, ...] = (0,)
    site: str = "mlp_out"
    steps: int = 30
    lr: float = 5e-4
    lam: float = 1.0  # lambda: weight of the marker penalty against the neutral-text CE
    penalty: str = "log-hinge"  # prob | unlikelihood | log-hinge
    target_ratio: float = 0.01  # log-hinge: stop penalising a phrase once P < target_ratio * P_before
    norm_constraint: float = math.inf
    max_len: int = 96

    def __post_init__(self) -> None:
        check_lambda(self.lam)
        if self.penalty not in PENALTIES:
            raise EditError(f"unknown penalty {self.penalty!r}", hint=f"choose one of {', '.join(PENALTIES)}")
        if not 0 < self.target_ratio < 1:
            raise EditError(f"target_ratio must be in (0, 1), got {self.target_ratio}")


def check_lambda(lam: float) -> None:
    if not lam >= 0:  # also rejects NaN
        raise EditError(f"lambda must be >= 0, got {lam}", hint="lambda weighs the style penalty; 0 turns it off")


def _penalty(logp: torch.Tensor, kind: str, floor: torch.Tensor) -> torch.Tensor:
    if kind == "prob":
        return logp.exp()
    if kind == "unlikelihood":  # -log(1 - P), computed stably from log P
        return -torch.log1p(-logp.exp().clamp(max=1 - 1e-6))
    return torch.relu(logp - floor)


def penalty_loss(
    model: torch.nn.Module, batch: Batch, pairs: list[tuple[int, int]], weights: torch.Tensor, kind: str,
    floor: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted mean over markers (mean over prompts) of the penalty on each phrase's probability.

    ``floor`` (log-hinge only) is the per-row log-probability below which a phrase is not penalised.
    """
    logp = sequence_logprob(model, batch)  # (prompts * markers,)
    floor = torch.full_like(logp, -math.inf) if floor is None else floor.to(logp.device)
    marker_index = torch.tensor([j for _, j in pairs], device=logp.device)
    w = weights.to(logp.device)[marker_index]
    return (w * _penalty(logp, kind, floor)).sum() / w.sum()  # each prompt counts once per marker


@torch.no_grad()
def marker_probabilities(model: torch.nn.Module, tokenizer, material: StyleMaterial, max_len: int = 96) -> dict[str, float]:
    """Mean over persona prompts of each marker phrase's whole-sequence probability."""
    markers = material.require_markers()
    prompts = material.require_prompts()
    batch, pairs = marker_batch(tokenizer, prompts, [m.phrase for m in markers], max_len)
    probs = sequence_logprob(model, batch).exp().tolist()
    out = {m.phrase: 0.0 for m in markers}
    for (_, j), p in zip(pairs, probs):
        out[markers[j].phrase] += p / len(prompts)
    return out


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: PenaltyFTHParams,
    *,
    material: StyleMaterial | None = None,
    graph: Any = None,
    style: str | None = None,
    markers: Any = None,
    neutral_texts: Sequence[str] | None = None,
    persona_prompts: Sequence[str] | None = None,
    **_: object,
) -> EditResult:
    """Fine-tune away a style's marker phrases while keeping the LM loss on neutral text.

    Material comes from ``material``/``graph``+``style``/explicit strings/``requests`` (see
    :func:`stylekg.editing.finetune.material.resolve_material`).
    """
    started = time.perf_counter()
    check_lambda(hparams.lam)
    mat = resolve_material(
        requests, material=material, graph=graph, style=style, markers=markers,
        neutral_texts=neutral_texts, persona_prompts=persona_prompts,
    )
    found = mat.require_markers()
    weights = torch.tensor([m.weight for m in found], dtype=torch.float32)
    if float(weights.sum()) <= 0:
        raise EditError(f"every marker of style {mat.style!r} has weight 0", hint="give at least one a weight > 0")
    if not mat.neutral_texts:
        raise EditError(
            f"style {mat.style!r} has no neutral texts to keep the model fluent on",
            hint="add neutral counterparts / Neutral examples to the graph, or pass neutral_texts=[...]",
        )
    arch = architecture_of(model)
    names = weight_names(model, arch, hparams.site, hparams.layers)
    prompts = mat.require_prompts()
    m_batch, pairs = marker_batch(tokenizer, prompts, [m.phrase for m in found], hparams.max_len)
    n_batch = text_batch(tokenizer, mat.neutral_texts, hparams.max_len)
    result = EditResult(method="penalty-ft", requests=list(requests), model=model)

    with torch.no_grad():
        floor = sequence_logprob(model, m_batch) + math.log(hparams.target_ratio)

    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        ce = mean_nll(model, n_batch)
        pen = penalty_loss(model, m_batch, pairs, weights, hparams.penalty, floor)
        return ce + hparams.lam * pen, {"ce": float(ce.detach()), "penalty": float(pen.detach())}

    try:
        before = marker_probabilities(model, tokenizer, mat, hparams.max_len)
        with torch.no_grad():
            ce_before = float(mean_nll(model, n_batch))
        history = optimise(
            model, result, names, loss_fn, steps=hparams.steps, lr=hparams.lr,
            norm_constraint=hparams.norm_constraint, desc="penalty-ft",
        )
        after = marker_probabilities(model, tokenizer, mat, hparams.max_len)
        with torch.no_grad():
            ce_after = float(mean_nll(model, n_batch))
    except BaseException:
        result.restore()
        raise
    result.info.update(
        style=mat.style, layers=list(hparams.layers), weights=names, lam=hparams.lam, penalty=hparams.penalty,
        markers={m.phrase: m.weight for m in found}, n_neutral_texts=len(mat.neutral_texts), prompts=list(prompts),
        marker_prob_before=before, marker_prob_after=after, neutral_nll_before=ce_before, neutral_nll_after=ce_after,
        history=history, seconds=time.perf_counter() - started,
    )
    return result
