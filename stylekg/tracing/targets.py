"""What a trace measures: scores of the model's continuation, one per batch row.

A :class:`Target` names the tokens teacher-forced after the prompt (``extra_ids``) and scores
the logits of the last ``len(extra_ids) + 1`` positions. Meng et al. score the probability of
the answer token; here the answer may also be a multi-token continuation, a *set* of marker
continuations (their summed probability) or a style score (log-odds of a style's markers
against their neutral counterparts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from ..errors import TraceError


@runtime_checkable
class Target(Protocol):
    """Scores a batch: ``score(logits[B, n_read, V]) -> [B]`` with ``n_read = len(extra_ids) + 1``."""

    name: str
    extra_ids: tuple[int, ...]

    def score(self, logits: torch.Tensor) -> torch.Tensor: ...

    def describe(self) -> dict[str, Any]: ...


def _ids(tokenizer, text: str) -> list[int]:
    if not text or not text.strip():
        raise TraceError("empty target", hint="give a non-empty continuation such as ' Paris'")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise TraceError(f"target {text!r} tokenises to nothing", hint="give a continuation with visible text")
    return list(ids)


def n_read(target: Target) -> int:
    return len(target.extra_ids) + 1


@dataclass(frozen=True)
class ContinuationTarget:
    """P(continuation | prompt): the product of the teacher-forced token probabilities.

    For a one-token answer this is exactly Meng et al.'s score ``softmax(logits)[answer]``.
    """

    text: str
    ids: tuple[int, ...]
    name: str = "continuation"
    extra_ids: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_ids", tuple(self.ids[:-1]))

    @classmethod
    def build(cls, tokenizer, text: str) -> ContinuationTarget:
        return cls(text, tuple(_ids(tokenizer, text)))

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(logits.float(), dim=-1)  # (B, n, V)
        index = torch.tensor(self.ids, device=logits.device).view(1, -1, 1).expand(logp.shape[0], -1, 1)
        return logp.gather(-1, index).squeeze(-1).sum(-1).exp()

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "text": self.text, "ids": list(self.ids)}


def _first_ids(tokenizer, texts: Sequence[str], what: str) -> list[int]:
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise TraceError(f"empty {what} set", hint=f"give at least one non-empty {what} continuation")
    return sorted({_ids(tokenizer, t)[0] for t in texts})


@dataclass(frozen=True)
class MarkerSetTarget:
    """Summed probability that the continuation starts one of a set of markers.

    A marker counts through its first token (distinct first tokens are summed once each), so a
    set of markers of different lengths is scored from one forward pass.
    """

    markers: tuple[str, ...]
    ids: tuple[int, ...]
    name: str = "markers"
    extra_ids: tuple[int, ...] = ()

    @classmethod
    def build(cls, tokenizer, markers: Sequence[str]) -> MarkerSetTarget:
        return cls(tuple(markers), tuple(_first_ids(tokenizer, markers, "marker")))

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits[:, -1].float(), dim=-1)
        return probs[:, list(self.ids)].sum(-1)

    def describe(self) -> dict[str, Any]:
        return {"type": self.name, "markers": list(self.markers), "ids": list(self.ids)}


@dataclass(frozen=True)
class StyleScoreTarget:
    """Log-odds of a style: ``log sum P(marker) - log sum P(neutral counterpart)`` at the next token.

    First tokens shared by both sides carry no style information and are dropped from both.
    """

    markers: tuple[str, ...]
    neutrals: tuple[str, ...]
    style_ids: tuple[int, ...]
    neutral_ids: tuple[int, ...]
    name: str = "style"
    extra_ids: tuple[int, ...] = ()

    @classmethod
    def build(cls, tokenizer, markers: Sequence[str], neutrals: Sequence[str]) -> StyleScoreTarget:
        style = set(_first_ids(tokenizer, markers, "marker"))
        neutral = set(_first_ids(tokenizer, neutrals, "neutral"))
        shared = style & neutral
        if style <= shared or neutral <= shared:
            raise TraceError(
                "the style markers and their neutral counterparts start with the same tokens",
                hint="give markers whose first word differs from the neutral wording",
            )
        return cls(tuple(markers), tuple(neutrals), tuple(sorted(style - shared)), tuple(sorted(neutral - shared)))

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        pos = torch.logsumexp(logp[:, list(self.style_ids)], dim=-1)
        neg = torch.logsumexp(logp[:, list(self.neutral_ids)], dim=-1)
        return pos - neg

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.name,
            "markers": list(self.markers),
            "neutrals": list(self.neutrals),
            "style_ids": list(self.style_ids),
            "neutral_ids": list(self.neutral_ids),
        }


def make_target(tokenizer, target: str | Sequence[str]) -> Target:
    """A continuation for a string, a marker set for a list of strings."""
    if isinstance(target, str):
        return ContinuationTarget.build(tokenizer, target)
    return MarkerSetTarget.build(tokenizer, list(target))


def style_target(tokenizer, markers: Sequence[str], neutrals: Sequence[str]) -> StyleScoreTarget:
    """The style score of marker strings against their neutral counterparts (no library needed)."""
    return StyleScoreTarget.build(tokenizer, markers, neutrals)


def top1_target(lm, prompt: str) -> ContinuationTarget:
    """The model's own greedy next token after ``prompt`` (Meng et al. trace the predicted answer)."""
    import torch

    ids = lm.tokenizer(prompt, return_tensors="pt")["input_ids"].to(lm.device)
    if ids.shape[1] == 0:
        raise TraceError("empty prompt", hint="give a prompt that contains the subject")
    with torch.inference_mode():
        token = int(lm.model(input_ids=ids, logits_to_keep=1).logits[0, -1].argmax())
    return ContinuationTarget(lm.tokenizer.decode([token]), (token,))
