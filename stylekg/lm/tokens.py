"""Token-level helpers shared by tracing, editing and evaluation.

Subject spans are found through character offsets, so a subject that tokenises differently in
context (" Paris" vs "Paris", merged punctuation) is still located exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import ModelError


class SpanError(ModelError):
    """A subject or target cannot be located/tokenised in a prompt."""


@dataclass(frozen=True)
class Encoded:
    """A tokenised prompt: ids (1-D), token strings and the subject's token span [start, end)."""

    ids: torch.Tensor
    tokens: list[str]
    subject_span: tuple[int, int] | None


def encode(tokenizer, text: str, subject: str | None = None, *, occurrence: int = -1) -> Encoded:
    """Tokenise ``text``; if ``subject`` is given, find the tokens covering its (last) occurrence."""
    enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
    ids = torch.tensor(enc["input_ids"], dtype=torch.long)
    tokens = [tokenizer.decode([i]) for i in enc["input_ids"]]
    span = None
    if subject is not None:
        span = subject_token_span(text, subject, enc["offset_mapping"], occurrence=occurrence)
    return Encoded(ids, tokens, span)


def subject_token_span(
    text: str, subject: str, offsets: list[tuple[int, int]], *, occurrence: int = -1
) -> tuple[int, int]:
    """Token indices [start, end) of the tokens overlapping ``subject``'s characters in ``text``."""
    subject = subject.strip()
    if not subject:
        raise SpanError("empty subject", hint="give the subject as it appears in the prompt")
    starts = []
    pos = text.find(subject)
    while pos != -1:
        starts.append(pos)
        pos = text.find(subject, pos + 1)
    if not starts:
        raise SpanError(
            f"subject {subject!r} does not occur in prompt {text!r}",
            hint="the subject must appear verbatim in the prompt",
        )
    char_start = starts[occurrence]
    char_end = char_start + len(subject)
    hit = [i for i, (a, b) in enumerate(offsets) if b > a and a < char_end and b > char_start]
    if not hit:
        raise SpanError(f"subject {subject!r} covers no token in {text!r}")
    return hit[0], hit[-1] + 1


def target_ids(tokenizer, target: str) -> list[int]:
    """Token ids of a continuation (no special tokens). Keep its leading space: ' Paris'."""
    if not target or not target.strip():
        raise SpanError("empty target", hint="give a non-empty continuation such as ' Paris'")
    ids = tokenizer(target, add_special_tokens=False)["input_ids"]
    if not ids:
        raise SpanError(f"target {target!r} tokenises to nothing")
    return list(ids)


def check_context(tokenizer, model, n_tokens: int) -> None:
    """Raise if ``n_tokens`` exceeds the model's context window."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    if limit is not None and n_tokens > int(limit):
        raise SpanError(
            f"input of {n_tokens} tokens (prompt and generated tokens) exceeds the model's context of {limit} tokens",
            hint="shorten the prompt or generate fewer tokens",
        )
