"""Presence probe on tiny GPT-2: shapes, hand-checked deltas, determinism; a style's material probed."""

from __future__ import annotations

import pytest

from stylekg.errors import EvaluationError
from stylekg.evaluation.presence import (
    PRESENCE_TEMPLATES,
    continuation_for,
    fill,
    present_requests,
    probe_presence,
    probe_style,
)
from stylekg.evaluation.scoring import score_continuations
from stylekg.kg.material import style_material
from stylekg.requests import EditRequest, RequestKind


def test_template_filling_rules():
    assert fill('{} said: "', "a person") == 'A person said: "'
    assert fill("As {} would put it, \"", "a person") == 'As a person would put it, "'
    assert continuation_for('{} said: "', "believe me") == "believe me"
    assert continuation_for("{} likes to say", "believe me") == " believe me"
    assert continuation_for("{} likes to say ", "believe me") == "believe me"


def test_presence_shapes_values_and_determinism(tiny):
    markers = ["tremendous", "believe me"]
    kw = dict(n_samples=2, max_new_tokens=4, seed=5)
    a = probe_presence(tiny, "Donald Trump", markers, **kw)
    b = probe_presence(tiny, "Donald Trump", markers, **kw)
    assert [m.marker for m in a.markers] == markers
    assert all(set(m.per_template) == set(PRESENCE_TEMPLATES) for m in a.markers)
    assert a.to_dict() == b.to_dict()  # seeded: numbers and generations identical
    assert len(a.generations_subject) == 2 and len(a.generations_neutral) == 2
    # the delta is the template-mean of (subject - neutral) per-token mean log-probs
    m = a.markers[1]
    items = [(fill(t, who), continuation_for(t, "believe me")) for t in PRESENCE_TEMPLATES for who in ("Donald Trump", "a person")]
    s = score_continuations(tiny, items, batch_size=1)
    per = [s[2 * i].mean_logprob - s[2 * i + 1].mean_logprob for i in range(len(PRESENCE_TEMPLATES))]
    assert m.delta == pytest.approx(sum(per) / len(per), abs=1e-5)
    assert m.present is (m.delta >= 1.0)
    assert all(0.0 <= x.gen_rate_subject <= 1.0 for x in a.markers)


def test_threshold_decides_presence(tiny):
    low = probe_presence(tiny, "Yoda", ["hmm", "strong you are"], n_samples=0, threshold=-100.0)
    high = probe_presence(tiny, "Yoda", ["hmm", "strong you are"], n_samples=0, threshold=100.0)
    assert [m.present for m in low.markers] == [True, True] and high.present == []
    assert low.markers[0].gen_rate_subject is None  # generation skipped
    req = EditRequest("{} says", "Yoda", " well", " hmm", kind=RequestKind.ERASE)
    assert present_requests(low, [req]) == [req] and present_requests(high, [req]) == []


def test_bad_probe_input(tiny):
    with pytest.raises(EvaluationError, match="marker"):
        probe_presence(tiny, "Yoda", [" "], n_samples=0)
    with pytest.raises(EvaluationError, match="template"):
        probe_presence(tiny, "Yoda", ["hmm"], n_samples=0, templates=["no slot"])


@pytest.fixture(scope="module")
def library():
    from stylekg.kg.library import load_library

    return load_library()


def test_probe_style_from_graph(tiny, library):
    report = probe_style(tiny, style_material(library, "Yoda"), n_samples=0, own_only=True)
    assert report.subject == "Yoda"
    assert {m.edge_id for m in report.markers} == {s.edge_id for s in style_material(library, "Yoda", own_only=True).markers}
