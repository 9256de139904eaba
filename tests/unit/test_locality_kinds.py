"""Neighbours by their overlap with an edit batch, and efficacy by shared subjects, with Wilson intervals."""

from __future__ import annotations

import math

import pytest

from stylekg.evaluation.counterfact import kept_neighbours
from stylekg.evaluation.locality_kinds import efficacy_by_subject, locality_by_kind, neighbour_kind, share
from stylekg.errors import EvaluationError
from stylekg.evaluation.results import CaseMetrics, EditMetrics, EvalReport, PromptRecord
from stylekg.requests import EditRequest

REQUESTS = [
    EditRequest("The capital of {} is", "France", " Rome", " Paris", case_id="0"),
    EditRequest("{} is a country in", "France", " Africa", " Europe", case_id="1"),
    EditRequest("{} is famous for playing the", "Jimi Hendrix", " piano", " guitar", case_id="2"),
]


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


@pytest.mark.parametrize("prompt, kind", [
    ("The official language of France is", "edited subject"),
    ("the capital of france is", "edited subject"),  # case-insensitive
    ("The capital of Latvia is", "edited template, relation first"),
    ("Germany is a country in", "edited template, subject first"),
    ("Frances Bean Cobain is famous for playing the", "edited template, subject first"),  # "France": whole word
    ("Miles Davis is famous for playing the", "edited template, subject first"),
    ("The official language of Latvia is", "unrelated"),
    ("The Rialto Bridge is located in the city of", "unrelated"),
])
def test_neighbour_kind(prompt: str, kind: str) -> None:
    assert neighbour_kind(prompt, REQUESTS) == kind


def test_share_is_wilson_and_none_when_empty() -> None:
    s = share([True, False, False, True, True])
    assert (s.hits, s.n, s.rate) == (3, 5, 0.6)
    assert (s.low, s.high) == pytest.approx(_wilson(3, 5), abs=1e-9)
    assert share([]) is None


def _record(prompt: str, target: str, nll: float, top1: bool) -> PromptRecord:
    return PromptRecord("locality", prompt, None, None, None, None, target=target, nll_own=nll, own_top1=top1)


def _rewrite(nll_new: float, nll_true: float) -> PromptRecord:
    return PromptRecord("rewrite", "p", nll_new, nll_true, None, None)


def _report(cases: list[list[PromptRecord]]) -> EvalReport:
    made = [CaseMetrics(str(i), "s", "fact", None, EditMetrics(), prompts=p) for i, p in enumerate(cases)]
    return EvalReport("m", EditMetrics(), made)


def test_locality_by_kind_counts_each_neighbour_once_with_the_evaluate_rule() -> None:
    """Kept: own answer keeps top-1 and at least half its probability (the rule of ``neighbours_kept``)."""
    nb = [("The official language of France is", "French"), ("The capital of Latvia is", "Riga"),
          ("The capital of Uganda is", "Kampala"), ("The official language of Latvia is", "Latvian")]
    before = _report([[_rewrite(3, 1)] + [_record(p, t, 0.5, True) for p, t in nb], [_rewrite(3, 1)], [_rewrite(2, 1)]])
    after_nb = [_record(nb[0][0], nb[0][1], 3.0, False),  # lost its top-1
                _record(nb[1][0], nb[1][1], 0.5 + math.log(2) + 0.01, True),  # under half its probability
                _record(nb[2][0], nb[2][1], 0.6, True),  # kept
                _record(nb[3][0], nb[3][1], 0.4, True)]  # kept
    after = _report([[_rewrite(0.5, 2)] + after_nb, [_rewrite(4, 1)], [_rewrite(0.2, 3)]])
    assert [k for _, k in kept_neighbours(before.cases[0].prompts, after.cases[0].prompts)] == [False, False, True, True]
    got = locality_by_kind(REQUESTS, before, after)
    assert {k: (s.hits, s.n) for k, s in got.items()} == {
        "edited subject": (0, 1), "edited template, relation first": (1, 2), "unrelated": (1, 1)}
    by_subject = efficacy_by_subject(REQUESTS, after)
    assert {k: (s.hits, s.n) for k, s in by_subject.items()} == {"shared subject": (1, 2), "own subject": (1, 1)}
    with pytest.raises(EvaluationError, match="one case per request"):
        locality_by_kind(REQUESTS[:2], before, after)
