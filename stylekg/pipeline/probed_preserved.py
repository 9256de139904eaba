"""The preserved set of a plain requests file: facts the model itself holds, probed before the edit.

A CounterFact file names its edits and, for judging only, their neighbours. What the edit must keep cannot come
from those neighbours (they are judged), so it comes from the model: the relation templates and subjects of the
model's shipped probe set (``stylekg/data/facts/counterfact_<model>.jsonl``: facts the model was probed to know)
are crossed with the edited requests, and the unedited model's own greedy answers become the answers to keep:

* every edited subject under every other known template (another fact of an edited subject,
  :attr:`PreservedKind.SUBJECT_FACT`);
* other known subjects under every edited template (:attr:`PreservedKind.TEMPLATE`).

Only answers whose first token the model gives at least ``min_prob`` are kept (it must hold them to keep them).
Nothing of a request but its subject and template is read: paraphrase and neighbourhood prompts never enter.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..requests import EditRequest, Preserved, PreservedKind

log = logging.getLogger(__name__)
FACTS_DIR = Path(__file__).resolve().parents[1] / "data" / "facts"
_STOP = re.compile(r"[.,;:!?\n]")


@dataclass(frozen=True)
class ProbeVocabulary:
    """Relation templates and subjects the model is known to hold facts about."""

    templates: tuple[str, ...]
    subjects: tuple[str, ...]
    source: str


def shipped_vocabulary(model_name: str, records: slice | None = None) -> ProbeVocabulary | None:
    """The templates and subjects of the model's shipped probe set (``records``: a slice of its lines), or None
    when the model has none."""
    path = FACTS_DIR / f"counterfact_{model_name}.jsonl"
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[records] if records is not None else rows
    rewrites = [r["requested_rewrite"] for r in rows]
    templates = tuple(dict.fromkeys(r["prompt"] for r in rewrites))
    subjects = tuple(dict.fromkeys(r["subject"] for r in rewrites))
    return ProbeVocabulary(templates, subjects, f"probe:{path.name}")


def _candidates(requests: Sequence[EditRequest], vocab: ProbeVocabulary,
                per_template: int) -> list[tuple[str, str, PreservedKind]]:
    edited = {(r.subject.strip(), r.prompt) for r in requests}
    subjects = list(dict.fromkeys(r.subject.strip() for r in requests))
    templates = list(dict.fromkeys(r.prompt for r in requests))
    out: dict[tuple[str, str], PreservedKind] = {}
    for subject in subjects:
        for template in vocab.templates:
            if (subject, template) not in edited:
                out.setdefault((subject, template), PreservedKind.SUBJECT_FACT)
    for template in templates:
        others = [s for s in vocab.subjects if s not in subjects][:per_template]
        for subject in others:
            out.setdefault((subject, template), PreservedKind.TEMPLATE)
    return [(s, t, k) for (s, t), k in out.items()]


@torch.no_grad()
def _answers(lm: Any, prompts: list[str], max_new_tokens: int, batch_size: int = 32) -> list[tuple[str, float]]:
    """Greedy answer (cut at the first punctuation) and the first token's probability, per prompt."""
    from ..lm.generation import generate, left_padded

    out: list[tuple[str, float]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        batch = left_padded(lm, chunk, add_special_tokens=True)
        first = torch.softmax(lm.model(**batch).logits[:, -1].float(), dim=-1).max(dim=-1).values
        texts = generate(lm, chunk, max_new_tokens=max_new_tokens)
        out += [(_STOP.split(t, maxsplit=1)[0].rstrip(), float(p)) for t, p in zip(texts, first)]
    return out


def probe_preserved(lm: Any, requests: Sequence[EditRequest], vocab: ProbeVocabulary, *, min_prob: float = 0.1,
                    per_template: int = 20, max_new_tokens: int = 3) -> tuple[Preserved, ...]:
    """The preserved set of ``requests``: the model's own confident answers to probe prompts (module doc)."""
    candidates = _candidates(requests, vocab, per_template)
    prompts = [t.format(s) for s, t, _ in candidates]
    answers = _answers(lm, prompts, max_new_tokens)
    kept: list[Preserved] = []
    for (subject, _template, kind), prompt, (answer, prob) in zip(candidates, prompts, answers):
        if prob >= min_prob and answer.strip():
            kept.append(Preserved(prompt, answer if answer.startswith(" ") else " " + answer.lstrip(), kind,
                                  subject=subject, source=vocab.source))
    log.info("preserved set: %d of %d probed facts held (first token p >= %.2f)", len(kept), len(candidates), min_prob)
    return tuple(kept)


@dataclass(frozen=True)
class GuardChoice:
    """The preserved set an edit gets, and one line saying where it came from (or why there is none)."""

    preserved: tuple[Preserved, ...]
    note: str

    def to_json(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for item in self.preserved:
            kinds[item.kind.value] = kinds.get(item.kind.value, 0) + 1
        return {"preserved": len(self.preserved), "kinds": kinds, "note": self.note}


def choose_preserved(lm: Any, model_name: str, method: Any, requests: Sequence[EditRequest], *, guard: bool = True,
                     graph_preserved: tuple[Preserved, ...] | None = None) -> GuardChoice:
    """What ``method`` must keep while editing ``requests``: the graph's preserved set when the requests come from
    a graph, else the model's probed facts; none with ``guard=False``, for methods that do not read one, or when
    the model has no probe set (each case says so)."""
    from ..editing.registry import Need

    if Need.PRESERVED not in method.needs:
        return GuardChoice((), f"{method.name} takes no preserved set")
    if not guard:
        return GuardChoice((), "guard off (--no-guard): the plain reference method")
    if graph_preserved:
        return GuardChoice(tuple(graph_preserved), f"{len(graph_preserved)} preserved prompts from the graph")
    vocab = shipped_vocabulary(model_name)
    if vocab is None:
        return GuardChoice((), f"no probed facts for {model_name} and no graph: the plain method")
    preserved = probe_preserved(lm, requests, vocab)
    return GuardChoice(preserved, f"{len(preserved)} preserved prompts probed from the model ({vocab.source})")
