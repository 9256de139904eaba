"""Batched teacher-forced scoring of continuations: the one forward-pass primitive of evaluation.

For a prefix ``p`` and a continuation ``c = (c_1..c_m)`` we feed ``ids(p) + ids(c)`` and read
``log P(c_j | p, c_<j)`` at positions ``len(ids(p)) + j - 1`` (the ROME/MEMIT reference reads the
same positions). The prefix is tokenised with the tokenizer's special tokens (a Llama BOS is
kept on the prefix, never inserted before the continuation); the continuation without them,
through :func:`stylekg.lm.tokens.target_ids`, so ``" Paris"`` keeps its leading space.

Rows are right-padded: in a causal model a real token never attends to a later pad, so the
scored positions are exactly those of an unpadded pass, and pad positions are never read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from ..lm.tokens import check_context, target_ids
from ..lm.head import head_logits
from ..lm.placement import input_device
from ..errors import EvaluationError


class HasModel(Protocol):
    """Anything with ``model`` and ``tokenizer`` (a :class:`stylekg.lm.LoadedModel`)."""

    model: torch.nn.Module
    tokenizer: object


@dataclass(frozen=True)
class ContinuationScore:
    """Per-token log-probabilities of one continuation and whether each token was the argmax."""

    token_logprobs: tuple[float, ...]
    greedy_hits: tuple[bool, ...]

    @property
    def nll(self) -> float:
        """Per-token averaged negative log-likelihood (the reference's ``target_new``/``target_true`` value)."""
        return -sum(self.token_logprobs) / len(self.token_logprobs)

    @property
    def mean_logprob(self) -> float:
        return -self.nll

    @property
    def prob(self) -> float:
        """``exp(-mean NLL)``: the per-token geometric-mean probability used by the magnitudes."""
        return math.exp(-self.nll)

    @property
    def top1(self) -> bool:
        """Every token is the argmax under teacher forcing, i.e. greedy decoding writes the continuation."""
        return all(self.greedy_hits)

    @property
    def first_top1(self) -> bool:
        return self.greedy_hits[0]


def _prefix_ids(tokenizer, prefixes: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
    if any(not p for p in prefixes):
        raise EvaluationError("a prompt to score is empty", hint="every prompt needs some text before the target")
    ids = tokenizer(list(prefixes), add_special_tokens=add_special_tokens)["input_ids"]
    for p, row in zip(prefixes, ids):
        if not row:
            raise EvaluationError(f"prompt {p!r} tokenises to nothing")
    return [list(r) for r in ids]


@torch.no_grad()
def score_continuations(
    lm: HasModel,
    items: Sequence[tuple[str, str]],
    *,
    batch_size: int = 32,
    add_special_tokens: bool = True,
) -> list[ContinuationScore]:
    """Score each ``(prefix, continuation)`` pair; rows sorted by length and batched (right padding)."""
    if not items:
        return []
    if batch_size < 1:
        raise EvaluationError(f"batch size {batch_size} must be at least 1")
    model, tok = lm.model, lm.tokenizer
    prefixes = _prefix_ids(tok, [p for p, _ in items], add_special_tokens)
    cont_cache: dict[str, list[int]] = {}
    conts = []
    for _, c in items:
        if c not in cont_cache:
            cont_cache[c] = target_ids(tok, c)
        conts.append(cont_cache[c])
    rows = [p + c for p, c in zip(prefixes, conts)]
    check_context(tok, model, max(len(r) for r in rows))

    device = input_device(model)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out: list[ContinuationScore | None] = [None] * len(rows)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width = max(len(rows[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, i in enumerate(chunk):
            ids[r, : len(rows[i])] = torch.tensor(rows[i])
            mask[r, : len(rows[i])] = 1
        hidden = model.base_model(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
        # logits at position t predict token t+1: continuation token j sits at p+j, read at p+j-1; only those
        # positions go through the unembedding
        spans = [(len(prefixes[i]) - 1, len(conts[i])) for i in chunk]
        rows_idx = torch.tensor([r for r, (_, n) in enumerate(spans) for _ in range(n)], device=hidden.device)
        cols_idx = torch.tensor([s + j for s, n in spans for j in range(n)], device=hidden.device)
        logits = head_logits(model, hidden[rows_idx, cols_idx]).float()
        offsets = [0]
        for _, n in spans:
            offsets.append(offsets[-1] + n)
        for r, i in enumerate(chunk):
            c = conts[i]
            step = logits[offsets[r] : offsets[r + 1]]
            logp = torch.log_softmax(step, dim=-1)
            target = torch.tensor(c, device=logp.device)
            chosen = logp.gather(1, target[:, None])[:, 0]
            hits = step.argmax(dim=-1) == target
            out[i] = ContinuationScore(tuple(chosen.tolist()), tuple(bool(h) for h in hits.tolist()))
    return out  # type: ignore[return-value]

