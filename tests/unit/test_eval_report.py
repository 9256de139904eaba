"""Result dataclasses: summaries, JSON round trip, comparisons and run records for the graph."""

from __future__ import annotations

import json

import pytest

from stylekg.evaluation.results import (
    METRIC_NAMES,
    CaseMetrics,
    EditMetrics,
    EvalReport,
    PromptRecord,
    compare,
    summarize,
)
from stylekg.pipeline.records import eval_record
from stylekg.kg.schema import RunRecord


def _case(cid, edge, role="edited", **m):
    return CaseMetrics(cid, "Yoda", "replace", edge, EditMetrics(**m),
                       [PromptRecord("rewrite", "Yoda said", 1.0, 2.0, True, False)], ["gen"], role)


def test_summary_skips_missing_values_and_takes_harmonic_mean():
    s = summarize([EditMetrics(efficacy_score=1.0, paraphrase_score=0.5, neighborhood_score=1.0),
                   EditMetrics(efficacy_score=0.0, neighborhood_score=0.5)])
    assert s.efficacy_score == 0.5 and s.paraphrase_score == 0.5 and s.neighborhood_score == 0.75
    assert s.score == pytest.approx(3 / (1 / 0.5 + 1 / 0.5 + 1 / 0.75))
    assert s.fluency is None
    assert summarize([EditMetrics(efficacy_score=0.0, paraphrase_score=1.0, neighborhood_score=1.0)]).score == 0.0


def test_report_round_trips_through_json(tmp_path):
    report = EvalReport("tiny", summarize([_case("1", "E:1", efficacy_score=1.0).metrics]),
                        [_case("1", "E:1", efficacy_score=1.0)], {"seed": 0})
    data = json.loads(json.dumps(report.to_dict()))
    again = EvalReport.from_dict(data)
    assert again == report
    paths = report.save(tmp_path / "out", prefix="post_")
    assert json.loads(paths["summary"].read_text())["summary"]["efficacy_score"] == 1.0
    assert json.loads(paths["cases"].read_text())[0]["prompts"][0]["nll_true"] == 2.0


def test_compare_gives_deltas_for_every_metric():
    out = compare(EditMetrics(efficacy_score=0.25), EditMetrics(efficacy_score=1.0))
    assert set(out) == set(METRIC_NAMES)
    assert out["efficacy_score"] == {"before": 0.25, "after": 1.0, "delta": 0.75}
    assert out["fluency"]["delta"] is None


def test_run_record_has_targets_per_edge_with_roles():
    cases = [_case("1", "E:edited", efficacy_score=1.0), _case("2", "E:child", efficacy_score=0.5),
             _case("3", None, efficacy_score=0.0), _case("4", "E:other", role="unrelated", neighborhood_score=1.0)]
    report = EvalReport("smollm2-135m", summarize([c.metrics for c in cases]), cases)
    record = eval_record(report, graph="library", method="rome", roles={"E:child": "subclass"}, run_id="run:x")
    assert isinstance(record, RunRecord) and record.id == "run:x" and record.kind == "eval"
    roles = {t.target_id: (t.role, t.metrics) for t in record.targets}
    assert roles["E:edited"] == ("edited", {"efficacy_score": 1.0})
    assert roles["E:child"][0] == "subclass" and roles["E:other"][0] == "unrelated"
    assert len(record.targets) == 3  # the case without an edge id is only in the summary
    assert record.params["summary"]["efficacy_score"] == 0.5 and record.created
