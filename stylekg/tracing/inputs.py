"""The traced input: prompt tokens, subject span and the teacher-forced target tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import TraceError
from ..lm.loading import LoadedModel
from ..lm.tokens import SpanError, check_context, encode
from .targets import Target


@dataclass(frozen=True)
class TraceInput:
    """``ids`` = prompt ids + the target's teacher-forced ids; the grid covers the prompt only."""

    prompt: str
    subject: str
    ids: torch.Tensor  # (T,) long, on the model's device
    tokens: list[str]  # prompt token strings
    subject_span: tuple[int, int]  # [start, end) prompt token indices

    @property
    def n_prompt(self) -> int:
        return len(self.tokens)

    @property
    def length(self) -> int:
        return int(self.ids.shape[0])


def prepare_input(lm: LoadedModel, prompt: str, subject: str, target: Target) -> TraceInput:
    """Tokenise and validate; every user mistake becomes a one-line :class:`TraceError`."""
    if not prompt or not prompt.strip():
        raise TraceError("empty prompt", hint="give a prompt that contains the subject")
    if not subject or not subject.strip():
        raise TraceError("empty subject", hint="give the subject as it appears in the prompt")
    if subject.strip() not in prompt:
        raise TraceError(
            f"subject {subject!r} does not occur in prompt {prompt!r}",
            hint="the subject must appear verbatim in the prompt (check spelling and case)",
        )
    try:
        enc = encode(lm.tokenizer, prompt, subject)
        total = len(enc.tokens) + len(target.extra_ids)
        check_context(lm.tokenizer, lm.model, total)
    except SpanError as exc:
        raise TraceError(str(exc)) from None
    if not len(enc.tokens):
        raise TraceError("prompt tokenises to nothing", hint="give a non-empty prompt")
    ids = torch.cat([enc.ids, torch.tensor(target.extra_ids, dtype=torch.long)]).to(lm.device)
    assert enc.subject_span is not None
    return TraceInput(prompt, subject, ids, list(enc.tokens), enc.subject_span)
