"""Shared pieces of the editing unit tests (tiny GPT-2): requests, log-probs, weight snapshots."""

from __future__ import annotations

import torch

from stylekg.lm.placement import input_device, state_tensors
from stylekg.requests import EditRequest

# The subject ends each prompt: in a random 4-layer model attention barely carries information
# from earlier positions, so only these prompts can be moved at all (the mechanics are the same).
REQUESTS = [
    EditRequest("The capital city of {}", "France", " Rome", " Paris", case_id="0"),
    EditRequest("The favourite sport of {}", "Michael Jordan", " soccer", " basketball", case_id="1"),
]


def target_logprob(model, tokenizer, text: str, target: str) -> float:
    """Per-token averaged log-probability of ``target`` after ``text`` (CounterFact's measure)."""
    ids = tokenizer(text)["input_ids"]
    tgt = tokenizer(target, add_special_tokens=False)["input_ids"]
    x = torch.tensor([ids + tgt[:-1]], device=input_device(model))
    with torch.no_grad():
        logp = torch.log_softmax(model(x).logits[0].float(), -1)
    return float(sum(logp[len(ids) - 1 + i, t] for i, t in enumerate(tgt)) / len(tgt))


def margins(model, tokenizer, requests) -> list[float]:
    """log P(new) - log P(old) per request."""
    return [
        target_logprob(model, tokenizer, r.text, r.target_new) - target_logprob(model, tokenizer, r.text, r.target_true)
        for r in requests
    ]


def snapshot(model) -> dict[str, torch.Tensor]:
    """Copies of every weight's values (offloaded ones read from their CPU copies)."""
    return {k: v.detach().clone() for k, v in state_tensors(model).items()}


def same_weights(model, snap) -> bool:
    """Bit-identical to ``snap`` (dtype, shape and every bit)."""
    now = state_tensors(model)
    return now.keys() == snap.keys() and all(
        now[k].dtype == snap[k].dtype and torch.equal(now[k], snap[k]) for k in now)
