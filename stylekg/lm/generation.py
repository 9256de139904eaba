"""Text generation and next-token probabilities (greedy by default)."""

from __future__ import annotations

import torch

from .loading import LoadedModel


@torch.no_grad()
def generate(
    lm: LoadedModel,
    prompts: list[str],
    *,
    max_new_tokens: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    chat: bool = False,
) -> list[str]:
    """Continuations of ``prompts`` (left-padded batch). ``chat`` wraps each prompt in the chat template."""
    tok = lm.tokenizer
    if chat:
        prompts = [
            tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts
        ]
    old_side = tok.padding_side
    tok.padding_side = "left"
    try:
        batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=not chat).to(lm.device)
    finally:
        tok.padding_side = old_side
    kwargs: dict = {"max_new_tokens": max_new_tokens, "do_sample": do_sample, "pad_token_id": tok.pad_token_id}
    if do_sample:
        torch.manual_seed(seed)
        kwargs.update(temperature=temperature, top_k=top_k or None)
    out = lm.model.generate(**batch, **kwargs)
    new = out[:, batch["input_ids"].shape[1]:]
    return [tok.decode(row, skip_special_tokens=True) for row in new]


@torch.no_grad()
def next_token_top(lm: LoadedModel, prompt: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely next tokens after ``prompt`` with their probabilities."""
    ids = lm.tokenizer(prompt, return_tensors="pt").to(lm.device)
    probs = torch.softmax(lm.model(**ids).logits[0, -1].float(), dim=-1)
    values, indices = probs.topk(k)
    return [(lm.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, indices)]
