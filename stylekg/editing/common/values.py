"""Optimising the new value at the subject's last token (ROME eq. 4, MEMIT eq. 16).

A vector delta_i per request is added to the output of ``site`` at the subject's last token of
every prompt of that request; delta_i minimises

    mean_j NLL(target | prefix_j + prompt)  +  kl_factor * KL(P_edited || P_orig)["{} is a"]
    + weight_decay * ||delta_i||^2 / ||v_i||^2,          subject to ||delta_i|| <= clamp * ||v_i||

with v_i the site's original output. An erase request without a new object uses the
unlikelihood term -log(1 - p(target_true)) instead of the NLL. The requests' objectives are
separable and Adam is per-coordinate, so requests are optimised together in one batch (a request
whose NLL is below ``stop_nll`` stops moving, like the reference's per-request early stop).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ...errors import EditError
from ...lm.hooks import TraceDict, output_tensor, replace_output_tensor
from ...requests import EditRequest
from .prompts import Tokenised, essence_sequence, objective_target, pad_batch, pad_id, rewrite_sequence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValueSettings:
    steps: int
    lr: float
    weight_decay: float
    clamp_norm_factor: float
    kl_factor: float
    stop_nll: float = 5e-2
    essence_template: str = "{} is a"
    batch_requests: int = 16

    def __post_init__(self) -> None:
        import math

        if not (math.isfinite(self.lr) and self.lr > 0):
            raise EditError(f"v_lr must be a positive finite number, got {self.lr}")
        if self.steps < 1 or self.batch_requests < 1:
            raise EditError("v_num_grad_steps and batch_requests must be at least 1")


@dataclass
class _Batch:
    ids: torch.Tensor
    mask: torch.Tensor
    rows: torch.Tensor  # sequence index of each lookup
    cols: torch.Tensor  # lookup position of each sequence
    owner: torch.Tensor  # request index (within the chunk) of each sequence
    score_rows: torch.Tensor  # (M,) sequence of each scored position
    score_cols: torch.Tensor  # (M,) position
    score_tokens: torch.Tensor  # (M,) token scored
    score_seq: torch.Tensor  # (M,) rewrite-sequence index (for per-sequence means)
    unlikely: torch.Tensor  # (n_requests,) bool
    n_rewrite: int
    essence_rows: torch.Tensor  # (n_requests,) index of each request's essence sequence
    essence_cols: torch.Tensor


def _build(tokenizer, requests: list[EditRequest], prefixes: list[str], device: torch.device) -> _Batch:
    rewrites: list[tuple[int, Tokenised]] = []
    unlikely = []
    for i, request in enumerate(requests):
        target, is_unlikely = objective_target(tokenizer, request)
        unlikely.append(is_unlikely)
        rewrites += [(i, rewrite_sequence(tokenizer, request, p, target)) for p in prefixes]
    essences = [(i, essence_sequence(tokenizer, r)) for i, r in enumerate(requests)]
    seqs = rewrites + essences
    ids, mask = pad_batch([t.ids for _, t in seqs], pad_id(tokenizer), device)
    score = [(row, pos, tok) for row, (_, t) in enumerate(rewrites) for pos, tok in zip(t.target_positions, t.target_tokens)]
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
    n_rw = len(rewrites)
    return _Batch(
        ids=ids,
        mask=mask,
        rows=torch.arange(len(seqs), device=device),
        cols=as_long([t.lookup for _, t in seqs]),
        owner=as_long([i for i, _ in seqs]),
        score_rows=as_long([s[0] for s in score]),
        score_cols=as_long([s[1] for s in score]),
        score_tokens=as_long([s[2] for s in score]),
        score_seq=as_long([s[0] for s in score]),
        unlikely=torch.tensor(unlikely, device=device),
        n_rewrite=n_rw,
        essence_rows=as_long(list(range(n_rw, len(seqs)))),
        essence_cols=as_long([t.target_positions[0] for _, t in essences]),
    )


def _forward(model: torch.nn.Module, b: _Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits at the scored positions (M, V), logits at the essence positions (n, V)).

    Only the positions that are scored go through the LM head (a large share of a small model's
    compute at vocabulary 49k); Gemma-style final logit soft-capping is applied when configured.
    """
    hidden = model.base_model(input_ids=b.ids, attention_mask=b.mask).last_hidden_state
    rows = torch.cat([b.score_rows, b.essence_rows])
    cols = torch.cat([b.score_cols, b.essence_cols])
    logits = model.get_output_embeddings()(hidden[rows, cols]).float()
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    m = b.score_rows.shape[0]
    return logits[:m], logits[m:]


def _objective(scored: torch.Tensor, b: _Batch, n: int) -> torch.Tensor:
    """Per-request mean over prompts of the per-token averaged NLL (or unlikelihood): (n,)."""
    logits = scored
    logp = torch.log_softmax(scored, dim=-1)
    tok_logp = logp.gather(1, b.score_tokens[:, None])[:, 0]
    owner_of_score = b.owner[b.score_seq]
    unlikely = b.unlikely[owner_of_score]
    p = tok_logp.exp().clamp(max=1 - 1e-6)
    per_token = torch.where(unlikely, -torch.log1p(-p), -tok_logp)
    seq_sum = torch.zeros(b.n_rewrite, device=logits.device).index_add(0, b.score_seq, per_token)
    seq_cnt = torch.zeros(b.n_rewrite, device=logits.device).index_add(0, b.score_seq, torch.ones_like(per_token))
    seq_mean = seq_sum / seq_cnt
    owners = b.owner[: b.n_rewrite]
    req_sum = torch.zeros(n, device=logits.device).index_add(0, owners, seq_mean)
    req_cnt = torch.zeros(n, device=logits.device).index_add(0, owners, torch.ones_like(seq_mean))
    return req_sum / req_cnt


def optimise_deltas(
    model: torch.nn.Module,
    tokenizer,
    requests: list[EditRequest],
    site: str,
    prefixes: list[str],
    settings: ValueSettings,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]]]:
    """(deltas, original outputs v, per-request log) at ``site``; both tensors (n, d) float32."""
    deltas, inits, logs = [], [], []
    for start in range(0, len(requests), settings.batch_requests):
        chunk = requests[start : start + settings.batch_requests]
        d, v, lg = _optimise_chunk(model, tokenizer, chunk, site, prefixes, settings)
        deltas.append(d)
        inits.append(v)
        logs += lg
    return torch.cat(deltas), torch.cat(inits), logs


def _optimise_chunk(model, tokenizer, requests, site, prefixes, s: ValueSettings):
    """Optimise with the weights' gradients switched off (only delta needs one); restored after."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        return _optimise(model, tokenizer, requests, site, prefixes, s)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _optimise(model, tokenizer, requests, site, prefixes, s: ValueSettings):
    device = next(model.parameters()).device
    b = _build(tokenizer, requests, prefixes, device)
    n = len(requests)
    first_rows = torch.arange(n, device=device) * len(prefixes)  # the unprefixed prompt of each request
    with torch.no_grad(), TraceDict(model, [site]) as tr:
        scored, essence = _forward(model, b)
    init = output_tensor(tr[site].output)[first_rows, b.cols[first_rows]].float()
    init_essence = torch.log_softmax(essence, dim=-1)
    init_obj = _objective(scored, b, n).detach()

    delta = torch.zeros_like(init, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=s.lr)
    max_norm = s.clamp_norm_factor * init.norm(dim=1)
    done = torch.zeros(n, dtype=torch.bool, device=device)

    def add_delta(out, _name):
        hidden = output_tensor(out)
        add = torch.zeros_like(hidden)
        add = add.index_put((b.rows, b.cols), delta[b.owner].to(hidden.dtype))
        return replace_output_tensor(out, hidden + add)

    obj = init_obj
    step = 0
    for step in range(1, s.steps + 1):
        with TraceDict(model, [site], edit_output=add_delta, retain_output=False):
            scored, essence = _forward(model, b)
        obj = _objective(scored, b, n)
        edited = torch.log_softmax(essence, dim=-1)
        kl = (edited.exp() * (edited - init_essence)).sum(-1)  # KL(P_edited || P_orig), eq. 4
        decay = s.weight_decay * delta.pow(2).sum(1) / init.pow(2).sum(1)
        loss = obj + s.kl_factor * kl + decay
        if not torch.isfinite(loss).all():
            raise EditError(
                f"value optimisation diverged (NaN/inf loss at step {step})",
                hint="lower v_lr or check the request's targets",
            )
        done |= obj.detach() < s.stop_nll
        if bool(done.all()):
            break
        (grad,) = torch.autograd.grad(loss.sum(), [delta])
        delta.grad = grad * (~done)[:, None]
        opt.step()
        with torch.no_grad():
            if not torch.isfinite(delta).all():
                raise EditError(f"value optimisation produced NaN at step {step}", hint="lower v_lr")
            norm = delta.norm(dim=1)
            scale = torch.where(norm > max_norm, max_norm / norm.clamp_min(1e-12), torch.ones_like(norm))
            delta.mul_(scale[:, None])
    logs = [
        {"objective_before": float(a), "objective_after": float(o), "delta_norm": float(dn), "steps": step}
        for a, o, dn in zip(init_obj, obj.detach(), delta.detach().norm(dim=1))
    ]
    log.info("values at %s: objective %.3f -> %.3f in %d steps", site, float(init_obj.mean()), float(obj.detach().mean()), step)
    return delta.detach(), init, logs
