"""Text generation and next-token probabilities (greedy by default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .loading import LoadedModel
from .placement import input_device
from .tokens import check_context

CPU_BATCH = 16  # rows per generate() call on the CPU (what every measured number used)
CUDA_BATCH = 64  # on a GPU, where each decoding step is memory-bound and wider batches cost little (not measured
# here: no GPU was available when it was set; scripts/device_check.py is where a measurement would go)


def default_batch_size(lm: LoadedModel) -> int:
    """Rows per batch for :func:`sample` when the caller gives none: :data:`CUDA_BATCH` when the model's inputs go
    to a GPU, else :data:`CPU_BATCH` (unchanged CPU results: batches decide padding and per-batch seeds)."""
    return CUDA_BATCH if input_device(lm.model).type == "cuda" else CPU_BATCH


def left_padded(lm: LoadedModel, texts: list[str], *, add_special_tokens: bool) -> Any:
    """A left-padded batch on the model's device (generation continues every row from its last real token)."""
    tok = lm.tokenizer
    old_side = tok.padding_side
    tok.padding_side = "left"
    try:
        batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=add_special_tokens)
        return batch.to(input_device(lm.model))
    finally:
        tok.padding_side = old_side


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
    batch = left_padded(lm, prompts, add_special_tokens=not chat)
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
    ids = lm.tokenizer(prompt, return_tensors="pt").to(input_device(lm.model))
    probs = torch.softmax(lm.model(**ids).logits[0, -1].float(), dim=-1)
    values, indices = probs.topk(k)
    return [(lm.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, indices)]


@dataclass(frozen=True)
class Sample:
    """One generated continuation: its text and the number of tokens the model wrote (up to end-of-sequence)."""

    text: str
    n_tokens: int


def chat_prompt(tokenizer, prompt: str, system: str | None = None) -> str:
    """``prompt`` as the user turn of the tokenizer's chat template (after ``system``, when given), ready for the
    assistant's answer."""
    turns = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


@torch.no_grad()
def sample(
    lm: LoadedModel,
    prompts: list[str],
    *,
    k: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_new_tokens: int = 96,
    seed: int = 0,
    chat: bool = True,
    system: str | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> list[list[Sample]]:
    """``k`` continuations per prompt (greedy when ``temperature == 0``; then ``k`` must be 1).

    Prompts go through the chat template when ``chat`` (and the tokenizer has one), after the ``system`` message
    when one is given (without a chat template it is put before the prompt). Rows are batched with left
    padding; each batch reseeds torch's generator with ``seed`` plus the batch's first row index, so the same
    prompts, settings, seed and ``batch_size`` give the same samples. ``batch_size`` defaults to
    :func:`default_batch_size` (16 on the CPU, 64 on a GPU). ``n_tokens`` counts the generated tokens before the
    first end-of-sequence token.
    """
    from tqdm.auto import tqdm

    tok = lm.tokenizer
    greedy = temperature <= 0.0
    if greedy and k != 1:
        raise ValueError("greedy decoding gives one continuation per prompt: use k=1 or a temperature > 0")
    use_chat = chat and bool(getattr(tok, "chat_template", None))
    texts = [chat_prompt(tok, p, system) if use_chat else (f"{system}\n\n{p}" if system else p) for p in prompts]
    rows = [t for t in texts for _ in range(k)]
    eos = {i for i in ([tok.eos_token_id] if isinstance(tok.eos_token_id, int) else (tok.eos_token_id or []))}
    out: list[Sample] = []
    step = max(1, batch_size or default_batch_size(lm))
    starts = range(0, len(rows), step)
    for start in tqdm(starts, desc="generating", unit="batch", disable=not progress, leave=False):
        chunk = rows[start: start + step]
        batch = left_padded(lm, chunk, add_special_tokens=not use_chat)
        check_context(tok, lm.model, batch["input_ids"].shape[1] + max_new_tokens)
        kwargs: dict = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id}
        if greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(seed + start)
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=None)
        new = lm.model.generate(**batch, **kwargs)[:, batch["input_ids"].shape[1]:]
        for row in new.tolist():
            end = next((i for i, t in enumerate(row) if t in eos), len(row))
            out.append(Sample(tok.decode(row[:end], skip_special_tokens=True), end))
    return [out[i * k:(i + 1) * k] for i in range(len(prompts))]
