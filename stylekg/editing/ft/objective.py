"""Teacher-forced objectives shared by the fine-tuning baselines (differentiable, batched).

A :class:`Batch` is right-padded token ids with a mask of the tokens being *predicted*; the
log-probability of a continuation is the chain of its tokens' conditional log-probabilities,
``log P(c | p) = sum_i log P(c_i | p, c_<i)``, so multi-token phrases are scored as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...errors import EditError
from ...lm.architectures import Architecture
from ...lm.hooks import Trace, output_tensor
from ...lm.placement import input_device
from ...lm.tokens import target_ids


@dataclass(frozen=True)
class Batch:
    """Right-padded ids, attention mask and ``predict`` (True where a token is scored)."""

    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    predict: torch.Tensor  # (B, T) bool

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.predict.to(device))


def model_device(model: torch.nn.Module) -> torch.device:
    return input_device(model)


def _pad(rows: list[list[int]], flags: list[list[bool]], pad_id: int) -> Batch:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    predict = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (row, flag) in enumerate(zip(rows, flags)):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        predict[i, : len(row)] = torch.tensor(flag)
    return Batch(ids, mask, predict)


def _pad_id(tokenizer) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad or 0)


def continuation_batch(tokenizer, prompts: Sequence[str], continuations: Sequence[str], max_len: int = 256,
                       scored: int | None = None) -> Batch:
    """Prompts followed by continuations; only the continuation tokens are scored (its first ``scored`` tokens
    when given: unlikelihood on a marker's first token, say).

    The continuation is tokenised on its own (as :func:`stylekg.lm.tokens.target_ids` does), so a
    phrase keeps the same token ids whatever prompt precedes it.
    """
    if len(prompts) != len(continuations) or not prompts:
        raise EditError("continuation_batch needs as many prompts as continuations (and at least one)")
    rows, flags = [], []
    for prompt, cont in zip(prompts, continuations):
        p_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        c_ids = target_ids(tokenizer, cont)
        if scored is not None:
            c_ids = c_ids[:scored]
        row = (list(p_ids) + c_ids)[-max_len:]
        flag = ([False] * len(p_ids) + [True] * len(c_ids))[-max_len:]
        if not p_ids:
            raise EditError(f"prompt {prompt!r} tokenises to nothing")
        rows.append(row)
        flags.append(flag)
    return _pad(rows, flags, _pad_id(tokenizer))


def text_batch(tokenizer, texts: Sequence[str], max_len: int = 128) -> Batch:
    """Plain texts scored on every token after the first (language-modelling loss)."""
    if not texts:
        raise EditError("no texts to score", hint="give at least one neutral text")
    rows, flags = [], []
    for text in texts:
        ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])[:max_len]
        if not ids:
            raise EditError(f"text {text!r} tokenises to nothing")
        rows.append(ids)
        flags.append([False] + [True] * (len(ids) - 1))
    return _pad(rows, flags, _pad_id(tokenizer))


def token_logprobs(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """(B, T-1) log-probabilities of each scored token given its prefix (0 where not scored)."""
    batch = batch.to(model_device(model))
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(-1, batch.input_ids[:, 1:, None])[..., 0]
    return logp * batch.predict[:, 1:]


def sequence_logprob(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """(B,) ``log P(continuation | prompt)``: the sum of its tokens' conditional log-probabilities."""
    return token_logprobs(model, batch).sum(dim=1)


def mean_nll(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean negative log-likelihood per scored token (cross-entropy), averaged per sequence."""
    lp = token_logprobs(model, batch)
    counts = batch.predict[:, 1:].sum(dim=1).clamp(min=1).to(lp.device)
    return (-(lp.sum(dim=1) / counts)).mean()


def pooled_hidden(model: torch.nn.Module, arch: Architecture, batch: Batch, layer: int) -> torch.Tensor:
    """(B, d) mean over real tokens of the residual stream after block ``layer`` (differentiable).

    The forward pass stops right after that block (nothing above it is computed).
    """
    batch = batch.to(model_device(model))
    with Trace(model, arch.site("residual", layer), stop=True) as trace:
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    hidden = output_tensor(trace.output).float()
    mask = batch.attention_mask[..., None].to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def marker_batch(tokenizer, prompts: Sequence[str], phrases: Sequence[str], max_len: int = 256) -> tuple[Batch, list[tuple[int, int]]]:
    """Every (prompt, phrase) pair teacher-forced; returns the batch and (prompt_i, phrase_j) per row.

    A phrase is given a leading space when the prompt does not end in whitespace, so ' tremendous'
    is scored as the word that follows ``Donald Trump said:``.
    """
    pairs = [(i, j) for i in range(len(prompts)) for j in range(len(phrases))]
    conts = [
        phrases[j] if phrases[j].startswith(" ") or prompts[i].endswith((" ", "\n")) else " " + phrases[j]
        for i, j in pairs
    ]
    return continuation_batch(tokenizer, [prompts[i] for i, _ in pairs], conts, max_len), pairs
