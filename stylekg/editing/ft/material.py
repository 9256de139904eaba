"""Style material for the fine-tuning and steering baselines, from plain strings and edit requests.

Every method here works on plain strings (marker phrases with weights, neutral texts, style example
sentences, persona prompts): a :class:`stylekg.material.StyleMaterial`. A style graph is read by
:func:`stylekg.kg.material.style_material`; the caller passes the result as ``material``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ...material import PERSONA_TEMPLATES, Marker, StyleMaterial, as_markers, unique
from ...requests import EditRequest, RequestKind

__all__ = ["PERSONA_TEMPLATES", "Marker", "StyleMaterial", "as_markers", "material_from_requests", "resolve_material"]


def material_from_requests(requests: Sequence[EditRequest], style: str = "") -> StyleMaterial:
    """Material implied by edit requests.

    ``ERASE`` requests name a marker (``target_true``) and its neutral counterpart (``target_new``);
    other kinds ask the model to adopt ``target_new`` instead of ``target_true``. The request text
    is a persona prompt; completed prompts form contrastive style / neutral texts.
    """
    markers, style_texts, neutral_texts, prompts = [], [], [], []
    for r in requests:
        styled, plain = (r.target_true, r.target_new) if r.kind is RequestKind.ERASE else (r.target_new, r.target_true)
        prompts.append(r.text)
        if r.kind is RequestKind.ERASE and styled:
            markers.append(Marker(styled.strip(), float(r.meta.get("weight", 1.0)), plain.strip() if plain else None))
        if styled:
            style_texts.append(r.text + styled)
        if plain:
            neutral_texts.append(r.text + plain)
    name = style or (requests[0].subject if requests else "")
    return StyleMaterial(name, tuple(markers), unique(style_texts), unique(neutral_texts), unique(prompts))


def resolve_material(
    requests: Sequence[EditRequest] = (),
    *,
    material: StyleMaterial | None = None,
    style: str | None = None,
    markers: Iterable[Marker | str | tuple[str, float]] | Mapping[str, float] | None = None,
    style_texts: Sequence[str] | None = None,
    neutral_texts: Sequence[str] | None = None,
    persona_prompts: Sequence[str] | None = None,
) -> StyleMaterial:
    """Combine every source a caller may give: explicit strings win over ``material`` over requests."""
    name = style or (material.style if material else "") or (requests[0].subject if requests else "")
    out = material_from_requests(requests, name) if requests else StyleMaterial(name)
    if material is not None:
        out = material.merged(out)
    explicit = StyleMaterial(
        name,
        as_markers(markers) if markers is not None else (),
        unique(style_texts or ()),
        unique(neutral_texts or ()),
        unique(persona_prompts or ()),
    )
    if markers is not None:  # explicit markers replace, not extend
        out = replace(out, markers=())
    if style_texts is not None:
        out = replace(out, style_texts=())
    if neutral_texts is not None:
        out = replace(out, neutral_texts=())
    if persona_prompts is not None:
        out = replace(out, persona_prompts=())
    return replace(explicit.merged(out), style=name or out.style, style_id=out.style_id, subject=out.subject)
