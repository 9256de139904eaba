"""Evaluation on the real SmolLM2-135M-Instruct: known facts score as known; presence is measured.

Measured on this model (CPU, float32; see the report of issue 6):
- the true object beats a false one on all 6 rewrite prompts below (efficacy of the truth = 1.0,
  magnitude 0.42, greedy top-1 on 4 of 6); "France's capital city is" does NOT favour Paris over
  Rome (4.16 vs 4.12 nats), so paraphrases use "The capital city of France is" (0.44 vs 7.47);
- presence of Donald Trump's markers over "a person": no marker reaches 1 nat/token (all within
  about ±0.7), so none of his edges counts as held; the test asserts the shape, not presence.
"""

from __future__ import annotations

import logging
import math

import pytest

from stylekg.evaluation.counterfact import evaluate
from stylekg.evaluation.presence import probe_style
from stylekg.requests import EditRequest

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

KNOWN = [
    EditRequest("The capital of {} is", "France", " Paris", " Rome",
                paraphrase_prompts=("The capital city of France is",), neighborhood_prompts=("The capital of Italy is",)),
    EditRequest("The capital of {} is", "Japan", " Tokyo", " Berlin", paraphrase_prompts=("The capital city of Japan is",)),
    EditRequest("{} is the capital of", "Berlin", " Germany", " Spain"),
    EditRequest("{} is located in the city of", "The Eiffel Tower", " Paris", " London"),
    EditRequest("{} was written by William", "Hamlet", " Shakespeare", " Blake"),
    EditRequest("The official language of {} is", "Brazil", " Portuguese", " Swedish"),
]


def test_true_objects_beat_false_ones_before_any_edit(smollm):
    # target_new is the TRUE object here: an unedited model that knows the facts has high "efficacy"
    report = evaluate(smollm, KNOWN, batch_size=8)
    s = report.summary
    log.info("SmolLM2 truth-vs-false: %s", s.as_dict(drop_none=True))
    assert s.efficacy_score >= 5 / 6
    assert s.paraphrase_score == 1.0
    assert s.efficacy_magnitude > 0.1
    # neighbourhood: on Italy's prompt the truth (here " Rome" as target_true) stays ahead of " Paris"
    assert report.cases[0].metrics.neighborhood_score == 1.0
    assert all(math.isfinite(r.nll_new) for c in report.cases for r in c.prompts)


def test_presence_probe_reports_per_edge_numbers(smollm):
    from stylekg.kg.library import library_style
    from stylekg.kg.material import style_material

    graph = library_style("Donald Trump")
    report = probe_style(smollm, style_material(graph, "Donald Trump"), n_samples=2, max_new_tokens=16, seed=0)
    by_marker = {m.marker: m for m in report.markers}
    for m in report.markers:
        log.info("presence %-30s Δ=%+.2f held=%s gen=%.2f/%.2f", m.marker, m.delta, m.present,
                 m.gen_rate_subject, m.gen_rate_neutral)
    assert {"tremendous", "believe me"} <= set(by_marker)
    assert all(m.edge_id and math.isfinite(m.delta) for m in report.markers)
    assert all(m.present == (m.delta >= report.threshold) for m in report.markers)
    assert len(report.generations_subject) == 2
