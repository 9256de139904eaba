"""Optimising the new value at the subject's last token (ROME eq. 4, MEMIT eq. 16).

A vector delta_i per request is added to the output of ``site`` at the subject's last token of
every prompt of that request (the rewrite prompts and the essence prompt); delta_i minimises, as
the reference's ``compute_v`` (ROME) and ``compute_z`` (MEMIT) do,

    L_i = mean_j NLL(target | prefix_j + prompt)                          (per-token mean NLL)
          + kl_factor * KL(P_edited || P_orig)[subject's last token of essence_template]
          + weight_decay * ||delta_i|| / ||v_i||^2,      subject to ||delta_i|| <= clamp * ||v_i||

with v_i the site's original output on the unprefixed prompt. Adam runs for at most
``steps - 1`` updates: every iteration evaluates L_i; a request whose L_i is below ``stop_loss``
(the reference's ``if loss < 5e-2: break``) is finished and frozen (its delta no longer changes,
whatever Adam's momentum; its prompts leave the batch), and no update follows the last evaluation,
so the logged objective is that of the returned delta. An erase request without a new object uses
the unlikelihood term -log(1 - p(target_true)) instead of the NLL.

A *unit* (:mod:`stylekg.editing.common.guard`) groups requests that share one key, with preserved prompts of
the same key: they share one delta, whose NLL term is the mean over the unit's edits plus ``value_weight``
times the mean NLL of the preserved prompts' own answers. Without units each request is its own unit and the
computation is exactly the reference's.

The requests' objectives are separable and Adam is per-coordinate, so requests are optimised
together in batches (at most ``batch_requests`` requests and ``max_positions`` padded positions: long
prompts or targets, e.g. a style's occurrences in chat, are split into more batches, which bounds the
memory), which equals optimising them one by one. Speed: delta enters at the
subject's last token, so every position before it is the same at every step. Rows are aligned at
that token: the positions before it run once (their keys/values are cached), and each step runs
only the positions from the subject's last token on (a few tokens per prompt instead of ~20).
"""

from __future__ import annotations

import inspect
import logging
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from ...errors import EditError
from ...lm.hooks import TraceDict, output_tensor, replace_output_tensor
from ...lm.head import head_logits
from ...lm.placement import input_device
from ...requests import EditRequest
from .prompts import Tokenised, as_prefixes, essence_sequence, objective_target, pad_id, rewrite_sequence

log = logging.getLogger(__name__)
_STEP_BAR_FROM = 8  # requests in one batch from which its steps show a progress bar


@dataclass(frozen=True)
class ValueSettings:
    steps: int
    lr: float
    weight_decay: float
    clamp_norm_factor: float
    kl_factor: float
    stop_loss: float = 5e-2
    essence_template: str = "{} is a"
    batch_requests: int = 16
    max_positions: int = 16384  # padded positions (rows x longest sequence) per batch: bounds the memory

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise EditError(f"v_lr must be a positive finite number, got {self.lr}")
        if self.steps < 1 or self.batch_requests < 1 or self.max_positions < 1:
            raise EditError("v_num_grad_steps, batch_requests and max_positions must be at least 1")
        if self.essence_template.count("{}") != 1:
            raise EditError(f"essence_template {self.essence_template!r} needs exactly one '{{}}'",
                            hint='use e.g. "{} is a"')


@dataclass
class _Batch:
    """Sequences split at the subject's last token: a left-padded part before it, run once, and a
    right-padded part from it on, run every step (the subject's last token is column 0)."""

    before_ids: torch.Tensor  # (B, P)
    before_mask: torch.Tensor
    ids: torch.Tensor  # (B, S)
    mask: torch.Tensor
    positions: torch.Tensor  # (B, S) position ids of the part from the lookup on
    owner: torch.Tensor  # (B,) request index of each sequence
    score_rows: torch.Tensor  # (M,) sequence of each scored position
    score_cols: torch.Tensor  # (M,) column in ``ids``
    score_tokens: torch.Tensor  # (M,) the token scored
    unlikely: torch.Tensor  # (n_requests,) bool
    n_rewrite: int  # rows [0, n_rewrite) are rewrite sequences, then one essence row per request
    essence_rows: torch.Tensor  # (n_requests,)
    first_rows: torch.Tensor  # (n_requests,) each request's unprefixed rewrite sequence
    seq_weight: torch.Tensor | None = None  # (n_rewrite,) units only: each rewrite sequence's weight
    req_norm: torch.Tensor | None = None  # (n_requests,) units only: what each request's weighted sum is divided by


class _Prepared(NamedTuple):
    """One request (or unit), tokenised once: a rewrite sequence per prefix (per member), the essence sequence,
    unlikelihood?, and for a unit the weight of each rewrite sequence and their normaliser."""

    request: EditRequest
    rewrites: list[Tokenised]
    essence: Tokenised
    unlikely: bool
    weights: tuple[float, ...] | None = None
    norm: float = 1.0


def _prepare(tokenizer, requests: list[EditRequest], prefixes, essence_template: str) -> list[_Prepared]:
    out = []
    for request in requests:
        target, unlikely = objective_target(tokenizer, request)
        rewrites = [rewrite_sequence(tokenizer, request, p, target) for p in prefixes]
        out.append(_Prepared(request, rewrites, essence_sequence(tokenizer, request, essence_template), unlikely))
    return out


def _prepare_units(tokenizer, requests: list[EditRequest], units, prefixes, essence_template: str,
                   value_weight: float) -> list[_Prepared]:
    """One item per unit: every edit's rewrite sequences weighted 1/(edits x prefixes), every preserved
    prompt's weighted value_weight/(kept x prefixes), normalised by the edits' total weight (1)."""
    out = []
    for unit in units:
        edits = [requests[i] for i in unit.edits]
        first = edits[0]
        _, unlikely = objective_target(tokenizer, first)
        rewrites: list[Tokenised] = []
        weights: list[float] = []
        for request in edits:
            target, _ = objective_target(tokenizer, request)
            rewrites += [rewrite_sequence(tokenizer, request, p, target) for p in prefixes]
            weights += [1.0 / (len(edits) * len(prefixes))] * len(prefixes)
        for keep in unit.retain:
            target, _ = objective_target(tokenizer, keep)
            rewrites += [rewrite_sequence(tokenizer, keep, p, target) for p in prefixes]
            weights += [value_weight / (len(unit.retain) * len(prefixes))] * len(prefixes)
        out.append(_Prepared(first, rewrites, essence_sequence(tokenizer, first, essence_template), unlikely,
                             tuple(weights), 1.0))
    return out


def _chunks(prepared: list[_Prepared], s: ValueSettings) -> list[list[_Prepared]]:
    """Consecutive groups of at most ``s.batch_requests`` requests whose padded batch (rows x (the longest part
    before the subject's last token + the longest part from it on)) stays within ``s.max_positions``; a
    request alone may exceed it."""
    chunks: list[list[_Prepared]] = []
    current: list[_Prepared] = []
    rows = before = after = 0
    for item in prepared:
        seqs = [*item.rewrites, item.essence]
        own_before = max(t.lookup for t in seqs)
        own_after = max(len(t.ids) - t.lookup for t in seqs)
        size = (rows + len(seqs)) * (max(before, own_before) + max(after, own_after))
        if current and (len(current) >= s.batch_requests or size > s.max_positions):
            chunks.append(current)
            current, rows, before, after = [], 0, 0, 0
        current.append(item)
        rows, before, after = rows + len(seqs), max(before, own_before), max(after, own_after)
    if current:
        chunks.append(current)
    return chunks


def _assemble(prepared: list[_Prepared], pid: int, device: torch.device) -> _Batch:
    """One batch of tokenised requests: rows aligned at the subject's last token."""
    rewrites: list[tuple[int, Tokenised]] = []
    essences: list[tuple[int, Tokenised]] = []
    unlikely, first, weights, norms = [], [], [], []
    weighted = any(item.weights is not None for item in prepared)
    for i, item in enumerate(prepared):
        unlikely.append(item.unlikely)
        weights += list(item.weights) if item.weights is not None else [1.0] * len(item.rewrites)
        norms.append(item.norm if item.weights is not None else float(len(item.rewrites)))
        first.append(len(rewrites))  # the first prefix is "" (type 0)
        rewrites += [(i, t) for t in item.rewrites]
        essences.append((i, item.essence))
    seqs = rewrites + essences
    width_before = max(t.lookup for _, t in seqs)
    width_after = max(len(t.ids) - t.lookup for _, t in seqs)
    n_rows = len(seqs)
    before_ids = torch.full((n_rows, width_before), pid, dtype=torch.long)
    before_mask = torch.zeros((n_rows, width_before), dtype=torch.long)
    ids = torch.full((n_rows, width_after), pid, dtype=torch.long)
    mask = torch.zeros((n_rows, width_after), dtype=torch.long)
    positions = torch.zeros((n_rows, width_after), dtype=torch.long)
    for row, (_, t) in enumerate(seqs):
        head, tail = t.ids[: t.lookup], t.ids[t.lookup :]
        if head:
            before_ids[row, width_before - len(head) :] = torch.tensor(head)
            before_mask[row, width_before - len(head) :] = 1
        ids[row, : len(tail)] = torch.tensor(tail)
        mask[row, : len(tail)] = 1
        positions[row] = torch.arange(t.lookup, t.lookup + width_after)
    score = [(row, pos - t.lookup, tok) for row, (_, t) in enumerate(rewrites)
             for pos, tok in zip(t.target_positions, t.target_tokens)]
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
    n_rw = len(rewrites)
    return _Batch(
        before_ids=before_ids.to(device), before_mask=before_mask.to(device), ids=ids.to(device),
        mask=mask.to(device), positions=positions.to(device),
        owner=as_long([i for i, _ in seqs]),
        score_rows=as_long([s[0] for s in score]), score_cols=as_long([s[1] for s in score]),
        score_tokens=as_long([s[2] for s in score]),
        unlikely=torch.tensor(unlikely, device=device),
        n_rewrite=n_rw, essence_rows=as_long(list(range(n_rw, len(seqs)))), first_rows=as_long(first),
        seq_weight=torch.tensor(weights, device=device) if weighted else None,
        req_norm=torch.tensor(norms, device=device) if weighted else None,
    )


def _subset(b: _Batch, keep: torch.Tensor) -> tuple[_Batch, torch.Tensor]:
    """The batch restricted to the requests where ``keep`` (n,) is true; request indices are kept."""
    rows = keep[b.owner].nonzero()[:, 0]
    new_index = torch.full((b.owner.shape[0],), -1, dtype=torch.long, device=rows.device)
    new_index[rows] = torch.arange(rows.shape[0], device=rows.device)
    scored = keep[b.owner[b.score_rows]]
    rewrite_rows = rows[rows < b.n_rewrite]

    def remap(index: torch.Tensor) -> torch.Tensor:  # -1 stays -1 (a request no longer in the batch)
        return torch.where(index >= 0, new_index[index.clamp_min(0)], index)

    sub = _Batch(
        before_ids=b.before_ids[rows], before_mask=b.before_mask[rows], ids=b.ids[rows], mask=b.mask[rows],
        positions=b.positions[rows], owner=b.owner[rows],
        score_rows=new_index[b.score_rows[scored]], score_cols=b.score_cols[scored],
        score_tokens=b.score_tokens[scored], unlikely=b.unlikely,
        n_rewrite=int(rewrite_rows.shape[0]),
        essence_rows=remap(b.essence_rows), first_rows=remap(b.first_rows),
        seq_weight=None if b.seq_weight is None else b.seq_weight[rewrite_rows], req_norm=b.req_norm,
    )
    return sub, rows


def _cache_arg(model: torch.nn.Module) -> str:
    """The base model's name for the key/value cache argument (transformers renamed it to ``cache``)."""
    names = inspect.signature(model.base_model.forward).parameters
    return "cache" if "cache" in names else "past_key_values"


def _cache_before(model: torch.nn.Module, b: _Batch):
    """Keys/values of every position before the subject's last token (None when there are none, or when a
    sliding attention window is shorter than the prompts, so that the cache could not be rewound)."""
    if b.before_ids.shape[1] == 0:
        return None
    window = getattr(model.config, "sliding_window", None)
    if window is not None and window <= b.before_ids.shape[1] + b.ids.shape[1]:
        return None
    positions = (b.before_mask.cumsum(1) - 1).clamp_min(0)
    out = model.base_model(input_ids=b.before_ids, attention_mask=b.before_mask, position_ids=positions, use_cache=True)
    names = getattr(out, "keys", lambda: ())()
    return out["cache"] if "cache" in names else out["past_key_values"]  # transformers renamed the field


def _rewind(cache, n_tokens: int) -> None:
    """Drop the last ``n_tokens`` positions a forward appended; what is left is detached from that graph."""
    cache.crop(-n_tokens)
    for layer in getattr(cache, "layers", ()):
        for name in ("keys", "values"):
            value = getattr(layer, name, None)
            if isinstance(value, torch.Tensor):
                setattr(layer, name, value.detach())


def _forward(model: torch.nn.Module, b: _Batch, cache) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits at the scored positions (M, V), logits at each request's essence lookup (n, V)).

    Runs only the part from the subject's last token on, attending to the cached earlier part; the
    cache is cropped back afterwards. Only the positions that are scored go through the LM head (a
    large share of a small model's compute at vocabulary 49k); Gemma-style final logit soft-capping
    is applied when configured.
    """
    mask = torch.cat([b.before_mask, b.mask], 1)
    if cache is not None:
        try:
            hidden = model.base_model(input_ids=b.ids, attention_mask=mask, position_ids=b.positions,
                                      **{_cache_arg(model): cache, "use_cache": True}).last_hidden_state
        finally:
            _rewind(cache, b.ids.shape[1])
    else:  # whole sequences (no cache: nothing before the subject, or a sliding window too short to rewind)
        ids = torch.cat([b.before_ids, b.ids], 1)
        positions = (mask.cumsum(1) - 1).clamp_min(0)
        hidden = model.base_model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                  use_cache=False).last_hidden_state[:, b.before_ids.shape[1] :]
    ess = b.essence_rows[b.essence_rows >= 0]
    rows = torch.cat([b.score_rows, ess])
    cols = torch.cat([b.score_cols, torch.zeros_like(ess)])
    at = hidden.device  # the last layer's device (a device map may spread the layers); logits go back to the batch's
    logits = head_logits(model, hidden[rows.to(at), cols.to(at)]).float().to(b.ids.device)
    m = b.score_rows.shape[0]
    return logits[:m], logits[m:]


def _objective(scored: torch.Tensor, b: _Batch, n: int) -> torch.Tensor:
    """Per-request mean over prompts of the per-token averaged NLL (or unlikelihood): (n,) (0 where absent)."""
    logp = torch.log_softmax(scored, dim=-1)
    tok_logp = logp.gather(1, b.score_tokens[:, None])[:, 0]
    owner_of_score = b.owner[b.score_rows]
    unlikely = b.unlikely[owner_of_score]
    p = tok_logp.exp().clamp(max=1 - 1e-6)
    per_token = torch.where(unlikely, -torch.log1p(-p), -tok_logp)
    device = scored.device
    n_rw = b.n_rewrite
    seq_sum = torch.zeros(n_rw, device=device).index_add(0, b.score_rows, per_token)
    seq_cnt = torch.zeros(n_rw, device=device).index_add(0, b.score_rows, torch.ones_like(per_token))
    seq_mean = seq_sum / seq_cnt.clamp_min(1)
    owners = b.owner[:n_rw]
    if b.seq_weight is not None and b.req_norm is not None:  # a unit: weighted edits and preserved prompts
        req_sum = torch.zeros(n, device=device).index_add(0, owners, seq_mean * b.seq_weight)
        return req_sum / b.req_norm
    req_sum = torch.zeros(n, device=device).index_add(0, owners, seq_mean)
    req_cnt = torch.zeros(n, device=device).index_add(0, owners, torch.ones_like(seq_mean))
    return req_sum / req_cnt.clamp_min(1)


def optimise_deltas(
    model: torch.nn.Module,
    tokenizer,
    requests: list[EditRequest],
    site: str,
    prefixes,
    settings: ValueSettings,
    units=None,
    value_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]]]:
    """(deltas, original outputs v, per-request log) at ``site``; both tensors (n, d) float32.

    With ``units`` (:class:`stylekg.editing.common.guard.Unit`), one delta per unit instead: (n_units, d)."""
    prefixes = list(as_prefixes(prefixes))
    deltas, inits, logs = [], [], []
    if units is None:
        prepared = _prepare(tokenizer, list(requests), prefixes, settings.essence_template)
    else:
        prepared = _prepare_units(tokenizer, list(requests), units, prefixes, settings.essence_template, value_weight)
    chunks = _chunks(prepared, settings)
    for chunk in tqdm(chunks, desc=f"values ({len(requests)} requests)", unit="batch", leave=False,
                      disable=len(chunks) < 2):
        d, v, lg = _optimise_chunk(model, pad_id(tokenizer), chunk, site, settings)
        deltas.append(d)
        inits.append(v)
        logs += lg
    return torch.cat(deltas), torch.cat(inits), logs


def _optimise_chunk(model, pid: int, chunk: list[_Prepared], site: str, s: ValueSettings):
    """Optimise with the weights' gradients switched off (only delta needs one); restored after."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        return _optimise(model, pid, chunk, site, s)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _optimise(model, pid: int, chunk: list[_Prepared], site: str, s: ValueSettings):
    device = input_device(model)
    b = _assemble(chunk, pid, device)
    n = len(chunk)
    with torch.no_grad():
        cache = _cache_before(model, b)
        with TraceDict(model, [site]) as tr:
            scored, essence = _forward(model, b, cache)
    col = 0 if cache is not None else b.before_ids.shape[1]
    out = output_tensor(tr[site].output)  # on the site's device; delta lives on the input device
    init = out[b.first_rows.to(out.device), col].float().to(device)
    init_essence = torch.log_softmax(essence, dim=-1)  # (n, V), request order
    init_obj = _objective(scored, b, n).detach()
    init_norm2 = init.pow(2).sum(1)

    delta = torch.zeros_like(init, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=s.lr)
    max_norm = s.clamp_norm_factor * init.norm(dim=1)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    last_nll, last_loss = init_obj.clone(), init_obj.clone()
    steps_taken = torch.zeros(n, dtype=torch.long, device=device)

    def add_delta(out, _name):
        hidden = output_tensor(out)
        add = torch.zeros_like(hidden)
        col = 0 if cache is not None else b.before_ids.shape[1]  # the subject's last token
        add[:, col] = delta[b.owner].to(device=hidden.device, dtype=hidden.dtype)
        return replace_output_tensor(out, hidden + add)

    # a bar over the steps when one batch is long enough to wait for (the batches' own bar is above)
    with tqdm(total=s.steps, desc=f"values at {site} ({n} requests)", unit="step", leave=False,
              disable=n < _STEP_BAR_FROM) as bar:
        for it in range(s.steps):
            bar.update(1)
            active = ~done
            with TraceDict(model, [site], edit_output=add_delta, retain_output=False):
                scored, essence = _forward(model, b, cache)
            idx = active.nonzero()[:, 0]
            nll = _objective(scored, b, n)[idx]
            edited = torch.log_softmax(essence, dim=-1)
            kl = (edited.exp() * (edited - init_essence[idx])).sum(-1)  # KL(P_edited || P_orig), eq. 4
            decay = s.weight_decay * delta[idx].norm(dim=1) / init_norm2[idx]  # reference: ||delta|| / ||v||^2
            loss = nll + s.kl_factor * kl + decay
            if not torch.isfinite(loss).all():
                raise EditError(
                    f"value optimisation diverged (NaN/inf loss at step {it})",
                    hint="lower v_lr or check the request's targets",
                )
            with torch.no_grad():
                last_nll[idx], last_loss[idx] = nll.detach(), loss.detach()
                steps_taken[idx] = it
                finished = idx[loss.detach() < s.stop_loss]
            if it == s.steps - 1 or finished.numel() == idx.numel():
                break
            (grad,) = torch.autograd.grad(loss.sum(), [delta])
            keep = delta.detach().clone()
            delta.grad = grad
            opt.step()
            with torch.no_grad():
                frozen = done.clone()
                frozen[finished] = True
                delta[frozen] = keep[frozen]  # finished requests do not move, whatever Adam's momentum
                if not torch.isfinite(delta).all():
                    raise EditError(f"value optimisation produced NaN at step {it}", hint="lower v_lr")
                norm = delta.norm(dim=1)
                scale = torch.where(norm > max_norm, max_norm / norm.clamp_min(1e-12), torch.ones_like(norm))
                delta.mul_(scale[:, None])
            if finished.numel():  # finished requests' prompts leave the batch (and the cache)
                done[finished] = True
                b, rows = _subset(b, ~done)
                if cache is not None:
                    cache.batch_select_indices(rows)
    logs = [
        {"objective_before": float(a), "objective_after": float(o), "loss": float(lo), "delta_norm": float(dn),
         "steps": int(st)}
        for a, o, lo, dn, st in zip(init_obj, last_nll, last_loss, delta.detach().norm(dim=1), steps_taken)
    ]
    log.info("values at %s: objective %.3f -> %.3f (loss %.3f), at most %d updates", site,
             float(init_obj.mean()), float(last_nll.mean()), float(last_loss.mean()), int(steps_taken.max()))
    return delta.detach(), init, logs
