"""Style presence probe, run before any edit: which marker edges does the model actually hold?

For a marker ``m``, subject ``s`` and neutral subject ``n`` (default "a person"), over prompt
templates ``t`` (e.g. ``'{} said: "'``):

    Δ(m) = mean_t [ (1/|m|) Σ_j log P(m_j | t(s), m_<j)  -  (1/|m|) Σ_j log P(m_j | t(n), m_<j) ]

the per-token log-probability gain (nats) the subject gives the marker over a neutral subject.
An edge is *present* when ``Δ ≥ threshold`` (default 1 nat); erasure is scored on present edges
only. The probe also samples persona-conditioned generations ("Write one sentence the way {}
talks.", through the chat template of instruct models; seeded) for the subject and the neutral
subject and reports each marker's rate in both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import EvaluationError
from ..material import Marker, StyleMaterial
from .scoring import HasModel, score_continuations
from .style_strength import has_marker

log = logging.getLogger(__name__)

PRESENCE_TEMPLATES: tuple[str, ...] = ('{} said: "', 'As {} would put it, "', "{} likes to say")
PERSONA_PROMPT = "Write one sentence the way {} talks."
PLAIN_PERSONA_PROMPT = '{} said: "'  # for base models without a chat template
DEFAULT_NEUTRAL = "a person"
DEFAULT_THRESHOLD = 1.0


@dataclass
class MarkerPresence:
    """Presence numbers of one marker edge."""

    marker: str
    edge_id: str | None
    trait: str
    logprob_subject: float  # mean over templates of the per-token mean log-prob after the subject
    logprob_neutral: float
    delta: float  # logprob_subject - logprob_neutral (nats per token)
    per_template: dict[str, float]  # template → delta
    gen_rate_subject: float | None = None  # fraction of persona generations containing the marker
    gen_rate_neutral: float | None = None
    present: bool = False


@dataclass
class PresenceReport:
    subject: str
    neutral_subject: str
    threshold: float
    templates: list[str]
    markers: list[MarkerPresence]
    model: str = ""
    n_samples: int = 0
    seed: int = 0
    generations_subject: list[str] = field(default_factory=list)
    generations_neutral: list[str] = field(default_factory=list)

    @property
    def present(self) -> list[MarkerPresence]:
        return [m for m in self.markers if m.present]

    @property
    def present_edges(self) -> list[str]:
        return [m.edge_id for m in self.present if m.edge_id]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["n_present"] = len(self.present)
        data["present_markers"] = [m.marker for m in self.present]
        return data


def continuation_for(template: str, marker: str) -> str:
    """The marker as continuation of a filled template: no space after a quote or space, else one."""
    if not template or template[-1] in " \"'\u201c(\n":
        return marker
    return " " + marker


def fill(template: str, subject: str) -> str:
    """The template with the subject; a sentence-initial subject is capitalised ("A person said")."""
    text = template.format(subject)
    if template.startswith("{}") and text:
        text = text[0].upper() + text[1:]
    return text


def _specs(markers: Sequence[str | Marker]) -> list[Marker]:
    texts = [m.text if isinstance(m, Marker) else str(m) for m in markers]
    if not texts or any(not t.strip() for t in texts):
        raise EvaluationError("the presence probe needs non-empty marker strings", hint="pass --marker TEXT")
    return [m if isinstance(m, Marker) else Marker(str(m)) for m in markers]


def persona_generations(
    lm: HasModel, subject: str, *, n_samples: int, max_new_tokens: int, seed: int, temperature: float = 1.0
) -> list[str]:
    """``n_samples`` sampled persona-conditioned texts (chat template when the tokenizer has one)."""
    from ..lm.generation import generate

    chat = bool(getattr(lm.tokenizer, "chat_template", None))
    prompt = PERSONA_PROMPT.format(subject) if chat else fill(PLAIN_PERSONA_PROMPT, subject)
    return generate(
        lm,  # type: ignore[arg-type]
        [prompt] * n_samples,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        top_k=50,
        seed=seed,
        chat=chat,
    )


def probe_presence(
    lm: HasModel,
    subject: str,
    markers: Sequence[str | Marker],
    *,
    neutral_subject: str = DEFAULT_NEUTRAL,
    templates: Sequence[str] = PRESENCE_TEMPLATES,
    threshold: float = DEFAULT_THRESHOLD,
    n_samples: int = 8,
    max_new_tokens: int = 40,
    seed: int = 0,
    batch_size: int = 32,
) -> PresenceReport:
    """Per-marker log-prob gain of ``subject`` over ``neutral_subject`` and persona-generation rates.

    ``n_samples=0`` skips generation (log-probs only).
    """
    specs = _specs(markers)
    if not templates or any("{}" not in t for t in templates):
        raise EvaluationError("every presence template needs '{}' for the subject", hint="e.g. '{} said: \"'")
    if not subject.strip() or not neutral_subject.strip():
        raise EvaluationError("the presence probe needs a subject and a neutral subject")
    items = [
        (fill(t, who), continuation_for(t, s.text))
        for s in specs
        for t in templates
        for who in (subject, neutral_subject)
    ]
    scores = iter(score_continuations(lm, items, batch_size=batch_size))
    gens_s = gens_n = []
    if n_samples > 0:
        gens_s = persona_generations(lm, subject, n_samples=n_samples, max_new_tokens=max_new_tokens, seed=seed)
        gens_n = persona_generations(lm, neutral_subject, n_samples=n_samples, max_new_tokens=max_new_tokens, seed=seed)
    rows = []
    for s in specs:
        per, lp_s, lp_n = {}, [], []
        for t in templates:
            a, b = next(scores).mean_logprob, next(scores).mean_logprob
            per[t], lp_s, lp_n = a - b, lp_s + [a], lp_n + [b]
        delta = float(np.mean(list(per.values())))
        rows.append(
            MarkerPresence(
                marker=s.text,
                edge_id=s.edge_id,
                trait=s.trait,
                logprob_subject=float(np.mean(lp_s)),
                logprob_neutral=float(np.mean(lp_n)),
                delta=delta,
                per_template=per,
                gen_rate_subject=float(np.mean([has_marker(g, s.text) for g in gens_s])) if gens_s else None,
                gen_rate_neutral=float(np.mean([has_marker(g, s.text) for g in gens_n])) if gens_n else None,
                present=delta >= threshold,
            )
        )
    log.info("presence of %s: %d of %d markers ≥ %.2f nat", subject, sum(r.present for r in rows), len(rows), threshold)
    return PresenceReport(
        subject=subject,
        neutral_subject=neutral_subject,
        threshold=threshold,
        templates=list(templates),
        markers=rows,
        model=str(getattr(lm, "name", "")),
        n_samples=n_samples,
        seed=seed,
        generations_subject=list(gens_s),
        generations_neutral=list(gens_n),
    )


def probe_style(lm: HasModel, material: StyleMaterial, *, own_only: bool = False, **kwargs: Any) -> PresenceReport:
    """:func:`probe_presence` on every marker edge of a style's material (own and inherited traits; ``own_only``:
    the style's own traits), after the style's subject (build the material with :mod:`stylekg.kg.material`)."""
    markers = material.own_markers() if own_only else material.markers
    if not markers:
        raise EvaluationError(f"style {material.style!r} has no markers to probe",
                              hint="add traits with EXPRESSED_BY markers")
    return probe_presence(lm, material.name, markers, **kwargs)


def present_requests(report: PresenceReport, requests: Sequence[Any]) -> list[Any]:
    """The requests on edges the model holds (erasure is scored on these only).

    A request matches by its ``edge_id`` or, failing that, by its ``target_true`` being a present marker.
    """
    held = set(report.present_edges)
    texts = {m.marker.strip().lower() for m in report.present}
    return [
        r
        for r in requests
        if getattr(r, "edge_id", None) in held or (getattr(r, "target_true", None) or "").strip().lower() in texts
    ]
