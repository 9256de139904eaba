"""Where a batch edit's locality failures come from: each neighbour by its overlap with the batch.

A neighbour prompt of a batch of requests is of one kind (the first that applies):

- ``edited subject``: it names a subject the batch edits (another relation of an edited subject);
- ``edited template, relation first``: it is an edited request's template filled with another subject, and the
  template has text before the subject ("The capital of X is"): the key at the subject's last token, where ROME,
  MEMIT and AlphaEdit write, has read the relation;
- ``edited template, subject first``: the same with the subject first ("X is a country in"): that key has not;
- ``unrelated``: none of these.

Efficacy is split the same way by whether a request's subject is edited more than once in the batch (such
requests share their subject's key). Every share comes with a Wilson 95% interval (``scipy.stats.binomtest``):
the groups are small.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import EvaluationError
from ..requests import EditRequest
from .counterfact import kept_neighbours
from .results import EvalReport

KINDS = ("edited subject", "edited template, relation first", "edited template, subject first", "unrelated")


@dataclass(frozen=True)
class Share:
    """``hits`` of ``n`` with its Wilson interval ``[low, high]``."""

    hits: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.hits / self.n

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "hits": self.hits, "rate": round(self.rate, 3), "low": round(self.low, 3),
                "high": round(self.high, 3)}


def share(flags: Sequence[bool], confidence: float = 0.95) -> Share | None:
    """The share of true ``flags`` with its Wilson interval; ``None`` for no flags."""
    from scipy.stats import binomtest

    if not flags:
        return None
    hits, n = sum(bool(f) for f in flags), len(flags)
    ci = binomtest(hits, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Share(hits, n, float(ci.low), float(ci.high))


def _template_pattern(template: str) -> re.Pattern[str]:
    head, _, tail = template.partition("{}")
    return re.compile(re.escape(head.strip()) + r"\s*.+?\s*" + re.escape(tail.strip()), re.IGNORECASE)


def neighbour_kind(prompt: str, requests: Sequence[EditRequest]) -> str:
    """The kind (:data:`KINDS`) of one neighbour prompt with respect to the edited ``requests``."""
    if any(re.search(rf"(?<!\w){re.escape(r.subject)}(?!\w)", prompt, re.IGNORECASE) for r in requests):
        return KINDS[0]
    matched = [r.prompt for r in requests
               if r.prompt.replace("{}", "").strip() and _template_pattern(r.prompt).fullmatch(prompt.strip())]
    if any(t.partition("{}")[0].strip() for t in matched):
        return KINDS[1]
    return KINDS[2] if matched else KINDS[3]


def locality_by_kind(requests: Sequence[EditRequest], before: EvalReport, after: EvalReport) -> dict[str, Share]:
    """Neighbours kept (the :func:`~.counterfact.evaluate` rule) per kind, over the whole batch.

    ``before`` and ``after``: :func:`~.counterfact.evaluate` reports of the same ``requests`` on the unedited and
    the edited model (one case per request, in order)."""
    if not (len(requests) == len(before.cases) == len(after.cases)):
        raise EvaluationError("locality_by_kind needs one case per request in both reports",
                              hint="pass the evaluate() reports of exactly these requests, before and after the edit")
    flags: dict[str, list[bool]] = {k: [] for k in KINDS}
    for cb, ca in zip(before.cases, after.cases):
        for record, kept in kept_neighbours(cb.prompts, ca.prompts):
            flags[neighbour_kind(record.prompt, requests)].append(kept)
    return {k: s for k, v in flags.items() if (s := share(v)) is not None}


def efficacy_by_subject(requests: Sequence[EditRequest], after: EvalReport) -> dict[str, Share]:
    """Efficacy (``P(new) > P(true)`` on the rewrite prompts) of requests whose subject is edited once
    (``own subject``) and of those whose subject the batch edits more than once (``shared subject``)."""
    counts: dict[str, int] = {}
    for r in requests:
        counts[r.subject.lower()] = counts.get(r.subject.lower(), 0) + 1
    flags: dict[str, list[bool]] = {"own subject": [], "shared subject": []}
    for r, case in zip(requests, after.cases):
        key = "shared subject" if counts[r.subject.lower()] > 1 else "own subject"
        flags[key] += [p.nll_new < p.nll_true for p in case.prompts
                       if p.group == "rewrite" and p.nll_new is not None and p.nll_true is not None]
    return {k: s for k, v in flags.items() if (s := share(v)) is not None}
