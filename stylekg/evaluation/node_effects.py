"""What an edit did to every measured node, phrase by phrase, in the answers the model writes.

A style's rate can hide what happened inside it: erasing an abstract parent's markers may push the model onto a
subclass's own phrases (the whack-a-mole of lexical erasure), so the sum barely moves while one phrase falls and
another rises. This audit therefore counts, on the same held-out answers before and after an edit:

* every node given to it (a marker, its neutral form, a trait = the sum of its markers, a style = the sum of its
  own markers), each on the prompts of its own family;
* the model's other frequent word n-grams, so that a substitute shows even when no graph names it.

Each count becomes a rate per 1,000 generated tokens with a percentile bootstrap interval over prompts
(:func:`stylekg.evaluation.generated_style.bootstrap_ratio`, ``scipy.stats.bootstrap``), and a direction: *fell*
when the after-interval lies wholly below the before-interval, *rose* when wholly above, else *unchanged*.
A node that was never written, before or after, is *absent* (unchanged, but there was nothing to remove).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import EvaluationError
from .generated_style import Generations, bootstrap_ratio, count_markers, inflections

FELL, ROSE, UNCHANGED, ABSENT = "fell", "rose", "unchanged", "absent"
DIRECTION_CODE = {FELL: -1.0, UNCHANGED: 0.0, ABSENT: 0.0, ROSE: 1.0}
"""How a direction is stored as a number (the ``effect_direction`` metric); absent = 0 with zero hits."""


@dataclass(frozen=True)
class Rate:
    """Hits per 1,000 generated tokens on some prompts, with a bootstrap interval over those prompts."""

    per_1k: float
    low: float
    high: float
    hits: int
    tokens: int
    n_prompts: int


@dataclass(frozen=True)
class MeasuredNode:
    """A node to audit: the phrases whose hits make it up, and the held-out prompts (indexes) it is judged on."""

    node_id: str
    name: str
    kind: str  # Marker, Neutral form, Trait, Style, AbstractStyle, n-gram
    phrases: tuple[str, ...]
    prompts: tuple[int, ...] | None = None  # None: every held-out prompt
    family: str = ""
    owner: str = ""  # the style whose own trait carries it ("" for a style itself)
    role: str = ""  # edited | subclass | unrelated (the owning style's role in the run)


@dataclass
class NodeEffect:
    """One audited node's rate before and after, and which way it moved."""

    node_id: str
    name: str
    kind: str
    family: str
    owner: str
    role: str
    before: Rate
    after: Rate
    direction: str
    per_phrase: dict[str, list[int]] = field(default_factory=dict)  # phrase → [hits before, hits after]

    @property
    def change(self) -> float:
        return self.after.per_1k - self.before.per_1k

    def metrics(self) -> dict[str, float]:
        """The numbers written on the node's ``MEASURED`` edges (docs/evaluation.md, "The audit")."""
        out = {"effect_direction": DIRECTION_CODE[self.direction]}
        for when, rate in (("before", self.before), ("after", self.after)):
            out.update({f"effect_rate_{when}": rate.per_1k, f"effect_rate_low_{when}": rate.low,
                        f"effect_rate_high_{when}": rate.high, f"effect_hits_{when}": float(rate.hits)})
        out["effect_n_prompts"] = float(self.before.n_prompts)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change, "metrics": self.metrics()}


def direction(before: Rate, after: Rate) -> str:
    """fell / rose when the two intervals separate, absent when nothing was written either time, else unchanged."""
    if before.hits == 0 and after.hits == 0:
        return ABSENT
    if after.high < before.low:
        return FELL
    if after.low > before.high:
        return ROSE
    return UNCHANGED


def rate(hits: Sequence[int], tokens: Sequence[int], *, n_resamples: int = 2000, seed: int = 0) -> Rate:
    """Summed hits over summed tokens (per 1,000), with the bootstrap interval of whole prompts."""
    if not len(hits):
        raise EvaluationError("a node is measured on no prompt", hint="give its family held-out prompts")
    total = int(sum(tokens))
    low, high = bootstrap_ratio(hits, tokens, n_resamples=n_resamples, seed=seed) if total else (0.0, 0.0)
    return Rate(1000.0 * sum(hits) / total if total else 0.0, 1000.0 * low, 1000.0 * high, int(sum(hits)), total,
                len(hits))


def _check_pair(before: Generations, after: Generations) -> None:
    if before.prompts != after.prompts:
        raise EvaluationError("the before and after answers are to different prompts",
                              hint="answer the same held-out prompts before and after the edit")


def phrase_counts(gens: Generations, variants: Mapping[str, Sequence[str]]) -> list[Counter[str]]:
    """Per prompt, the hits of each phrase in its answers (non-overlapping, longest match first)."""
    out = []
    for group in gens.samples:
        counts: Counter[str] = Counter()
        for s in group:
            counts += count_markers(s.text, variants)
        out.append(counts)
    return out


def prompt_tokens(gens: Generations) -> list[int]:
    return [sum(s.n_tokens for s in group) for group in gens.samples]


def phrase_variants(phrases: Sequence[str], extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """Each phrase → the strings that count as it: its inflections and any ``extra`` variants (graph spellings)."""
    extra = extra or {}
    return {p: tuple(dict.fromkeys((*inflections(p), *extra.get(p, ())))) for p in dict.fromkeys(phrases)}


def audit_nodes(before: Generations, after: Generations, nodes: Sequence[MeasuredNode],
                variants: Mapping[str, Sequence[str]], *, n_resamples: int = 2000, seed: int = 0) -> list[NodeEffect]:
    """Every node's rate before and after on its prompts, and its direction (module doc)."""
    _check_pair(before, after)
    counts = {"before": phrase_counts(before, variants), "after": phrase_counts(after, variants)}
    tokens = {"before": prompt_tokens(before), "after": prompt_tokens(after)}
    out = []
    for node in nodes:
        missing = [p for p in node.phrases if p not in variants]
        if missing:
            raise EvaluationError(f"node {node.name!r}: no variants for {missing[0]!r}")
        idx = list(node.prompts) if node.prompts is not None else list(range(len(before.prompts)))
        rates, per_phrase = {}, {p: [0, 0] for p in node.phrases}
        for slot, when in enumerate(("before", "after")):
            hits = [sum(counts[when][i][p] for p in node.phrases) for i in idx]
            rates[when] = rate(hits, [tokens[when][i] for i in idx], n_resamples=n_resamples, seed=seed)
            for p in node.phrases:
                per_phrase[p][slot] = sum(counts[when][i][p] for i in idx)
        out.append(NodeEffect(node.node_id, node.name, node.kind, node.family, node.owner, node.role,
                              rates["before"], rates["after"], direction(rates["before"], rates["after"]), per_phrase))
    return out


def _grams(text: str, sizes: Sequence[int]) -> list[str]:
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer = CountVectorizer(ngram_range=(min(sizes), max(sizes)), token_pattern=r"(?u)\b\w[\w']*\b",
                               lowercase=True).build_analyzer()
    return [g for g in analyzer(text.replace("\u2019", "'")) if len(g.split()) in sizes]


def frequent_ngrams(before: Generations, after: Generations, *, sizes: Sequence[int] = (2, 3), top: int = 150,
                    min_hits: int = 3, skip: Sequence[str] = (), n_resamples: int = 1000,
                    seed: int = 0) -> list[NodeEffect]:
    """The model's most frequent word n-grams in the before and the after answers (``top`` of each, at least
    ``min_hits`` times), each audited on every held-out prompt: substitutes that no graph names.

    ``skip``: phrases already audited as graph nodes (lower-cased), left out here."""
    _check_pair(before, after)
    per_prompt = {}
    for when, gens in (("before", before), ("after", after)):
        per_prompt[when] = [Counter(g for s in group for g in _grams(s.text, sizes)) for group in gens.samples]
    skipped = {s.lower() for s in skip}
    chosen: list[str] = []
    for when in ("before", "after"):
        total = sum(per_prompt[when], Counter())
        chosen += [g for g, n in total.most_common() if n >= min_hits and g not in skipped][:top]
    tokens = {"before": prompt_tokens(before), "after": prompt_tokens(after)}
    out = []
    for gram in dict.fromkeys(chosen):
        rates = {when: rate([c[gram] for c in per_prompt[when]], tokens[when], n_resamples=n_resamples, seed=seed)
                 for when in ("before", "after")}
        out.append(NodeEffect(f"ngram:{gram}", gram, "n-gram", "", "", "", rates["before"], rates["after"],
                              direction(rates["before"], rates["after"]),
                              {gram: [rates["before"].hits, rates["after"].hits]}))
    return out


def substitutions(effects: Sequence[NodeEffect]) -> list[NodeEffect]:
    """The effects that rose, the largest rise first."""
    return sorted((e for e in effects if e.direction == ROSE), key=lambda e: -e.change)


__all__ = ["ABSENT", "DIRECTION_CODE", "FELL", "MeasuredNode", "NodeEffect", "ROSE", "Rate", "UNCHANGED",
           "audit_nodes", "direction", "frequent_ngrams", "phrase_variants", "rate", "substitutions"]
