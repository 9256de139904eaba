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

When the material carries the model's own occurrences of its markers (``material.contexts``: a chat context up
to each marker, from mined answers), the penalty is taken where the model really writes each marker,
``P(m | context)``, instead of after persona prompts, and the CE term is taken on the same answers with the
markers replaced by their neutral forms (``material.neutral_pairs``, prompt tokens not scored): the model is
taught to keep answering, in its own register, without the markers.

With a preserved set (``context.preserved``: other styles' markers, neutral forms, the model's own plain answers
to train prompts) and ``retain_weight`` > 0, the loss gains ``retain_weight * R``, the KL to the unedited model
at the preserved answers' tokens (:mod:`..common.retain`). Without one the loss is exactly the one above.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import torch

from ...errors import EditError
from ...lm.architectures import architecture_of
from ...material import StyleMaterial
from ...requests import EditRequest
from ..common.retain import RetainLoss, full_model_logits, preserved_batch
from ..context import EditContext
from ..ft.material import resolve_material
from ..ft.objective import Batch, continuation_batch, marker_batch, mean_nll, sequence_logprob, text_batch
from ..ft.train import optimise, weight_names
from ..result import EditResult
from .hparams import PenaltyFTHparams, check_lambda

log = logging.getLogger(__name__)


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


def _penalty_batch(tokenizer, mat: StyleMaterial, markers: Sequence, max_len: int,
                   scored: int | None = None) -> tuple[Batch, list[tuple[int, int]]]:
    """Where each marker is penalised: at the model's own contexts when the material has them (rows pair a
    context with its marker; ``scored``: only its first tokens), else after every persona prompt."""
    if not mat.contexts:
        return marker_batch(tokenizer, mat.require_prompts(), [m.phrase for m in markers], max_len)
    index = {m.phrase: j for j, m in enumerate(markers)}
    rows = [(i, c) for i, c in enumerate(mat.contexts) if c.phrase in index]
    if not rows:
        raise EditError(f"none of the {len(mat.contexts)} contexts of style {mat.style!r} is one of its markers",
                        hint="build the contexts from the same material's markers")
    batch = continuation_batch(tokenizer, [c.prompt for _, c in rows], [c.marker for _, c in rows], max_len, scored)
    return batch, [(i, index[c.phrase]) for i, c in rows]


@torch.no_grad()
def _marker_means(model: torch.nn.Module, batch: Batch, pairs: list[tuple[int, int]], markers: Sequence) -> dict[str, float]:
    """Mean probability of each marker over its rows of ``batch``."""
    probs = sequence_logprob(model, batch).exp().tolist()
    sums: dict[str, list[float]] = {m.phrase: [] for m in markers}
    for (_, j), p in zip(pairs, probs):
        sums[markers[j].phrase].append(p)
    return {k: (sum(v) / len(v) if v else 0.0) for k, v in sums.items()}


def _with_retain(loss_fn, retain: RetainLoss | None, weight: float):
    """``loss_fn`` plus ``weight * R`` when there is a retain loss; ``loss_fn`` itself (untouched) otherwise."""
    if retain is None:
        return loss_fn

    def with_retain() -> tuple[torch.Tensor, dict[str, float]]:
        r = retain()  # first: its reference pass swaps the trained weights, which a built graph must not see
        loss, parts = loss_fn()
        return loss + weight * r, {**parts, "retain": float(r.detach())}

    return with_retain


def _trained(model: torch.nn.Module, arch, hparams: PenaltyFTHparams) -> list[torch.nn.Parameter]:
    return [model.get_parameter(n) for n in weight_names(model, arch, hparams.site, hparams.layers)]


def _persona_loss(model: torch.nn.Module, arch, hparams: PenaltyFTHparams, m_batch: Batch, n_batch: Batch,
                  pairs: list[tuple[int, int]], weights: torch.Tensor, floor: torch.Tensor,
                  r_batch: Batch | None = None):
    """CE on the neutral texts + lambda * the penalty on every marker after every persona prompt (full batch)
    (+ the retain loss on ``r_batch``)."""
    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        ce = mean_nll(model, n_batch)
        pen = penalty_loss(model, m_batch, pairs, weights, hparams.penalty, floor)
        return ce + hparams.lam * pen, {"ce": float(ce.detach()), "penalty": float(pen.detach())}

    retain = (RetainLoss(r_batch, full_model_logits(model), _trained(model, arch, hparams), rows=hparams.batch_rows,
                         seed=hparams.seed) if r_batch is not None else None)
    return _with_retain(loss_fn, retain, hparams.retain_weight)


def _context_loss(model: torch.nn.Module, arch, hparams: PenaltyFTHparams, m_batch: Batch, n_batch: Batch,
                  pairs: list[tuple[int, int]], weights: torch.Tensor, floor: torch.Tensor,
                  r_batch: Batch | None = None):
    """CE on the plain answers + lambda * the penalty at the model's own contexts, on ``batch_rows`` random rows of
    each per step (seeded), through the top blocks only when the bottom one is frozen (:mod:`..ft.upper_stack`)
    (+ the retain loss on ``batch_rows`` random items of ``r_batch``, drawn by their own generator)."""
    from ..ft.objective import token_logprobs
    from ..ft.upper_stack import UpperStack

    first = min(hparams.layers)
    batches = [m_batch, n_batch] if r_batch is None else [m_batch, n_batch, r_batch]
    stack = UpperStack(model, arch, first, batches) if first >= 1 else None
    rng = torch.Generator().manual_seed(hparams.seed)
    marker_index = torch.tensor([j for _, j in pairs])

    def scored(batch: Batch, rows: torch.Tensor) -> torch.Tensor:
        if stack is not None:
            return stack.token_logprobs(batch, rows)
        return token_logprobs(model, Batch(batch.input_ids[rows], batch.attention_mask[rows], batch.predict[rows]))

    def pick(n: int) -> torch.Tensor:
        k = hparams.batch_rows or n
        return torch.randperm(n, generator=rng)[: min(k, n)]

    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        n_rows, m_rows = pick(n_batch.input_ids.shape[0]), pick(m_batch.input_ids.shape[0])
        lp = scored(n_batch, n_rows)
        counts = n_batch.predict[n_rows, 1:].sum(dim=1).clamp(min=1).to(lp.device)
        ce = (-(lp.sum(dim=1) / counts)).mean()
        logp = scored(m_batch, m_rows).sum(dim=1)
        w = weights.to(logp.device)[marker_index[m_rows]]
        pen = (w * _penalty(logp, hparams.penalty, floor[m_rows].to(logp.device))).sum() / w.sum()
        return ce + hparams.lam * pen, {"ce": float(ce.detach()), "penalty": float(pen.detach())}

    retain = None
    if r_batch is not None:
        logits = stack.scored_logits if stack is not None else full_model_logits(model)
        retain = RetainLoss(r_batch, logits, _trained(model, arch, hparams), rows=hparams.batch_rows,
                            seed=hparams.seed)
    return _with_retain(loss_fn, retain, hparams.retain_weight)


def apply(
    model: torch.nn.Module,
    tokenizer,
    requests: Sequence[EditRequest],
    hparams: PenaltyFTHparams,
    context: EditContext | None = None,
) -> EditResult:
    """Fine-tune away a style's marker phrases while keeping the LM loss on neutral text.

    Material is ``context.material`` merged with what the ``requests`` imply (see
    :func:`stylekg.editing.ft.material.resolve_material`).
    """
    started = time.perf_counter()
    check_lambda(hparams.lam)
    mat = resolve_material(requests, material=context.material if context else None)
    found = mat.require_markers()
    weights = torch.tensor([m.weight for m in found], dtype=torch.float32)
    if float(weights.sum()) <= 0:
        raise EditError(f"every marker of style {mat.style!r} has weight 0", hint="give at least one a weight > 0")
    if not mat.neutral_texts and not mat.neutral_pairs:
        raise EditError(
            f"style {mat.style!r} has no neutral texts to keep the model fluent on",
            hint="add neutral counterparts / Neutral examples to the graph, or give the material neutral texts",
        )
    arch = architecture_of(model)
    names = weight_names(model, arch, hparams.site, hparams.layers)
    prompts = mat.require_prompts()
    m_batch, pairs = _penalty_batch(tokenizer, mat, found, hparams.max_len, hparams.marker_tokens or None)
    n_batch = (continuation_batch(tokenizer, [p for p, _ in mat.neutral_pairs], [a for _, a in mat.neutral_pairs],
                                  hparams.max_len) if mat.neutral_pairs
               else text_batch(tokenizer, mat.neutral_texts, hparams.max_len))
    result = EditResult(method="penalty-ft", requests=list(requests), model=model)

    preserved = context.preserved if context is not None else ()
    r_batch = (preserved_batch(tokenizer, preserved, hparams.max_len) if preserved and hparams.retain_weight > 0
               else None)
    with torch.no_grad():
        floor = sequence_logprob(model, m_batch) + math.log(hparams.target_ratio)
    loss_fn = (_context_loss(model, arch, hparams, m_batch, n_batch, pairs, weights, floor, r_batch) if mat.contexts
               else _persona_loss(model, arch, hparams, m_batch, n_batch, pairs, weights, floor, r_batch))

    try:
        before = _marker_means(model, m_batch, pairs, found)
        with torch.no_grad():
            ce_before = float(mean_nll(model, n_batch))
        history = optimise(
            model, result, names, loss_fn, steps=hparams.steps, lr=hparams.lr,
            norm_constraint=hparams.norm_constraint, desc="penalty-ft",
        )
        after = _marker_means(model, m_batch, pairs, found)
        with torch.no_grad():
            ce_after = float(mean_nll(model, n_batch))
    except BaseException:
        result.restore()
        raise
    result.info.update(
        style=mat.style, layers=list(hparams.layers), weights=names, lam=hparams.lam, penalty=hparams.penalty,
        markers={m.phrase: m.weight for m in found}, n_neutral_texts=len(mat.neutral_texts or mat.neutral_pairs),
        n_contexts=len(mat.contexts), n_preserved=len(preserved) if r_batch is not None else 0,
        retain_weight=hparams.retain_weight, prompts=list(prompts) if not mat.contexts else [],
        marker_prob_before=before, marker_prob_after=after, neutral_nll_before=ce_before, neutral_nll_after=ce_after,
        history=history, seconds=time.perf_counter() - started,
    )
    return result
