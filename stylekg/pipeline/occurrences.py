"""From the model's own answers to training data for an erase: where it wrote each marker, and plain answers.

A voice with no subject (the assistant voice) is written in chat answers, so its edit data come from there:

* :func:`marker_contexts`: every place a marker (or an inflection of it) was written in an answer, as the chat
  context up to it, the marker as it continues that context, and its neutral form;
* :func:`plain_answers`: the same answers with every marker replaced by its neutral form, as (prompt, answer)
  pairs, so a fine-tuning loss keeps the model fluent *in its own register*;
* :func:`context_requests`: the contexts as edit requests for subject-keyed editors (ROME, MEMIT), with a subject
  inside the context (the chat template's ``assistant`` role, the topic, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import EditError
from ..evaluation.generated_style import Generations, marker_variants
from ..evaluation.style_strength import marker_pattern
from ..lm.generation import chat_prompt
from ..material import MarkerContext, StyleMaterial, substitute
from ..requests import EditRequest, RequestKind


def _prompt_text(tokenizer: Any, prompt: str, gens: Generations) -> str:
    system = gens.settings.system
    if gens.settings.chat and getattr(tokenizer, "chat_template", None):
        return chat_prompt(tokenizer, prompt, system)
    return f"{system}\n\n{prompt}" if system else prompt


def _like(written: str, neutral: str) -> str:
    """``neutral`` with the capitalisation of what was written ("Crucial" → "Important")."""
    return neutral[:1].upper() + neutral[1:] if written[:1].isupper() else neutral


def marker_contexts(tokenizer: Any, material: StyleMaterial, gens: Generations,
                    limit_per_marker: int | None = None) -> tuple[MarkerContext, ...]:
    """Every occurrence of the material's markers in ``gens`` as a :class:`MarkerContext`.

    The context keeps the chat template; a space before the marker moves into the marker's continuation, so the
    marker is tokenised as the model wrote it (" crucial", not " " + "crucial").
    """
    variants = marker_variants(material.markers)
    by_phrase = {m.phrase: m for m in material.markers}
    out: list[MarkerContext] = []
    counts: dict[str, int] = {}
    for prompt, answer in gens.pairs():
        head = _prompt_text(tokenizer, prompt, gens)
        text = answer.replace("’", "'")
        for phrase, forms in variants.items():
            for form in forms:
                for match in marker_pattern(form).finditer(text):
                    if limit_per_marker is not None and counts.get(phrase, 0) >= limit_per_marker:
                        break
                    before, written = text[: match.start()], match.group(0)
                    lead = " " if before.endswith(" ") else ""
                    neutral = by_phrase[phrase].neutral
                    out.append(MarkerContext(head + before[: len(before) - len(lead)], lead + written,
                                             lead + _like(written, neutral) if neutral else None, phrase,
                                             by_phrase[phrase].edge_id))
                    counts[phrase] = counts.get(phrase, 0) + 1
    return tuple(dict.fromkeys(out))


def plain_answers(tokenizer: Any, material: StyleMaterial, gens: Generations) -> tuple[tuple[str, str], ...]:
    """(prompt, answer) with every marker that has a neutral form replaced by it (case kept). Answers that loop (a
    4-gram three times or more) are left out: training on them teaches the model its own loops (measured: the
    share of looping held-out answers after the demo's erase fell from 0.38 to 0.27 without them)."""
    from ..evaluation.generated_style import repetition_rate

    pairs = []
    for prompt, answer in gens.pairs():
        if repetition_rate([answer]) > 0:
            continue
        plain = answer
        for m in material.markers:
            if m.neutral and not m.is_neutral:
                plain = substitute(plain, m.phrase, m.neutral)
        pairs.append((_prompt_text(tokenizer, prompt, gens), plain))
    return tuple(pairs)


def context_requests(contexts: Sequence[MarkerContext], subject: str = "assistant") -> list[EditRequest]:
    """Erase requests from marker contexts for subject-keyed editors: the prompt is the real context with its last
    ``subject`` (e.g. the chat template's assistant role) as the ``{}`` slot; old object = the marker, new = its
    neutral form."""
    out = []
    for i, c in enumerate(contexts):
        at = c.prompt.rfind(subject)
        if at < 0:
            raise EditError(f"subject {subject!r} does not occur in the context of marker {c.phrase!r}",
                            hint="choose a subject that the chat context contains (e.g. 'assistant')")
        prompt = c.prompt[:at].replace("{", "{{").replace("}", "}}") + "{}" + \
            c.prompt[at + len(subject):].replace("{", "{{").replace("}", "}}")
        out.append(EditRequest(prompt=prompt, subject=subject, target_new=c.neutral, target_true=c.marker,
                               kind=RequestKind.ERASE, edge_id=c.edge_id, case_id=f"occurrence|{i}|{c.phrase}",
                               meta={"occurrence": i, "marker": c.phrase}))
    return out


def with_occurrences(material: StyleMaterial, tokenizer: Any, gens: Generations) -> StyleMaterial:
    """The material plus the model's own contexts and plain answers (what an occurrence-driven erase trains on)."""
    from dataclasses import replace

    return replace(material, contexts=marker_contexts(tokenizer, material, gens),
                   neutral_pairs=plain_answers(tokenizer, material, gens))
