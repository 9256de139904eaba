"""From the model's own answers to training data for an erase: where it wrote each marker, and plain answers.

A voice with no subject (the assistant voice) is written in chat answers, so its edit data come from there:

* :func:`marker_contexts`: every place a marker (or an inflection of it) was written in an answer, as the chat
  context up to it, the marker as it continues that context, and its neutral form;
* :func:`plain_answers`: the same answers with every marker replaced by its neutral form, as (prompt, answer)
  pairs, so a fine-tuning loss keeps the model fluent *in its own register*;
* :func:`context_requests`: the contexts as edit requests for subject-keyed editors (ROME, MEMIT), with a subject
  inside the context (the chat template's ``assistant`` role, the topic, ...);
* :func:`plain_answer_items`: the same answers, as the model wrote them, for the edit's preserved set (what a
  retain loss keeps likely), cut at the markers so the positions that write a marker are never kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import EditError
from ..evaluation.generated_style import Generations, marker_variants
from ..evaluation.style_strength import marker_pattern
from ..lm.generation import chat_prompt
from ..material import MarkerContext, StyleMaterial, substitute
from ..requests import EditRequest, Preserved, PreservedKind, RequestKind


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


def _marker_spans(material: StyleMaterial, answer: str) -> list[tuple[int, int]]:
    """Sorted, merged character spans of the material's markers in ``answer`` (a space before a marker included,
    as :func:`marker_contexts` puts it into the marker)."""
    text = answer.replace("’", "'")  # one character for one: spans index the answer as written
    spans = []
    for forms in marker_variants(material.markers).values():
        for form in forms:
            for match in marker_pattern(form).finditer(text):
                start = match.start() - (1 if text[: match.start()].endswith(" ") else 0)
                spans.append((start, match.end()))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def plain_answer_items(tokenizer: Any, material: StyleMaterial, gens: Generations) -> tuple[Preserved, ...]:
    """The model's own answers (``gens``: answers to *train* prompts) as :attr:`PreservedKind.PLAIN_ANSWER` items.

    Each answer is cut at the material's markers: one item per stretch between markers, its prompt the chat prompt
    plus the answer up to the stretch (markers included, as written), its target the stretch. So a retain loss
    keeps every position of the answer except those that write a marker. Looping answers are left out, as in
    :func:`plain_answers`. ``source`` is ``train:<prompt index>``.
    """
    from ..evaluation.generated_style import repetition_rate

    items = []
    for i, (prompt, answer) in enumerate(gens.pairs()):
        if repetition_rate([answer]) > 0:
            continue
        head, at = _prompt_text(tokenizer, prompt, gens), 0
        for start, end in [*_marker_spans(material, answer), (len(answer), len(answer))]:
            if answer[at:start].strip():
                items.append(Preserved(head + answer[:at], answer[at:start], PreservedKind.PLAIN_ANSWER,
                                       source=f"train:{i}"))
            at = end
    return tuple(items)


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
