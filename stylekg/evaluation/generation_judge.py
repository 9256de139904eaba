"""The optional LLM judge of generated answers: style strength and fluency, each 0-100, through any client with
``complete_json(prompt, schema, check=)`` (the OpenAI-compatible one caches accepted answers and re-asks on malformed
ones). Used by :func:`stylekg.evaluation.generated_style.measure`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import JudgeError
from ..material import StyleMaterial

RATING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"style_strength": {"type": "integer", "minimum": 0, "maximum": 100},
                   "fluency": {"type": "integer", "minimum": 0, "maximum": 100}},
    "required": ["style_strength", "fluency"],
    "additionalProperties": False,
}
RATING_PROMPT = (
    "You rate writing. Style: {style}. Typical markers of the style: {markers}.\n"
    "Rate the text below. style_strength: 0 = no trace of the style, 100 = the style throughout. "
    "fluency: 0 = broken or repetitive text, 100 = fluent, natural English. Judge the wording only.\n\n"
    'Text:\n"""\n{text}\n"""\n\nAnswer as JSON: {{"style_strength": 0-100, "fluency": 0-100}}.'
)


def parse_rating(answer: Any) -> dict[str, int]:
    """A validated rating, or a :class:`JudgeError` naming what is wrong with the judge's answer."""
    if not isinstance(answer, Mapping):
        raise JudgeError(f"the judge answered {type(answer).__name__}, not a JSON object")
    out = {}
    for key in ("style_strength", "fluency"):
        value = answer.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise JudgeError(f"the judge's {key} is {value!r}, not a number from 0 to 100")
        out[key] = int(round(value))
    return out


def _check_rating(answer: Any) -> None:
    """The client's answer check: a ``ValueError`` makes it ask again with the reason."""
    try:
        parse_rating(answer)
    except JudgeError as exc:
        raise ValueError(str(exc)) from None


class GenerationJudge:
    """Style strength and fluency of answers, 0-100, from an LLM (``complete_json(prompt, schema, check=)``).

    The client validates every answer with :func:`parse_rating` (re-asking on malformed ones) and caches the
    accepted answers, so a re-run asks nothing new.
    """

    def __init__(self, client: Any) -> None:
        if not callable(getattr(client, "complete_json", None)):
            raise JudgeError(f"{type(client).__name__} has no complete_json(prompt, schema) method")
        self.client = client

    def rate(self, text: str, material: StyleMaterial) -> dict[str, int]:
        markers = ", ".join(m.phrase for m in material.markers[:12]) or "none listed"
        prompt = RATING_PROMPT.format(style=material.style, markers=markers, text=text)
        return parse_rating(self.client.complete_json(prompt, RATING_SCHEMA, check=_check_rating))

    def score(self, texts: Sequence[str], material: StyleMaterial) -> dict[str, float]:
        if not texts:
            raise JudgeError("no texts to judge")
        ratings = [self.rate(t, material) for t in texts]
        return {"judge_style_strength": float(np.mean([r["style_strength"] for r in ratings])),
                "judge_fluency": float(np.mean([r["fluency"] for r in ratings])), "judged": float(len(ratings))}
