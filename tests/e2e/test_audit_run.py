"""Issue 22 end to end: a hierarchy written by hand in a graph file, a prompt set given as a JSON file, a
parent-only erase (``--propagate none``) on the tiny model, and the audit in the summary, the store, the queries,
the report and the graph page."""

from __future__ import annotations

import json
import os

import pytest

from stylekg.kg.run_effects import effect_rows, substitution_rows
from stylekg.kg.stores import open_store
from stylekg.pipeline import Pipeline, RunConfig
from tests.unit.test_node_effects import PROMPTS, RECORDS


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    (tmp / "toy.json").write_text(json.dumps(RECORDS))
    (tmp / "prompts.json").write_text(json.dumps(PROMPTS))
    cfg = RunConfig(style="Toy child", node="Toy register", propagate="none", mode="erase", method="memit",
                    model="tiny-gpt2", graph_file=str(tmp / "toy.json"), prompts=str(tmp / "prompts.json"),
                    store=str(tmp / "g.lbug"), runs_dir=str(tmp / "runs"), max_new_tokens=16, guard_prompts=2,
                    trace_samples=2, trace_facts=1, generations=2, max_markers=2,
                    fluency_guard=100.0)  # a random model's edit is not judged for fluency here
    return cfg, Pipeline(cfg).run()


def test_every_subclass_is_audited_on_its_own_family(audited) -> None:
    _, outcome = audited
    effects = json.loads((outcome.run_dir / "effects.json").read_text())
    styles = {r["name"]: r for r in effects["rows"] if r["kind"] in ("Style", "AbstractStyle")}
    assert styles["Toy register"]["role"] == "edited" and styles["Toy register"]["family"] == ""
    assert styles["Toy child"]["family"] == "animals" and styles["Toy child"]["before"]["n_prompts"] == 4
    assert styles["Toy traveller"]["family"] == "places" and styles["Toy traveller"]["before"]["n_prompts"] == 3
    assert effects["edited"] == ["AbstractStyle:toy-register"] and effects["propagate"] == "none"
    kinds = {r["kind"] for r in effects["rows"]}
    assert {"Marker", "Trait", "Neutral form"} <= kinds
    assert len(effects["matrix"]["change"][0]) == len(effects["rows"])


def test_the_store_and_the_queries_hold_the_audit(audited) -> None:
    cfg, outcome = audited
    with open_store(cfg.store, read_only=True) as store:
        record, rows = effect_rows(store, "latest")
        same, rose = substitution_rows(store, outcome.run_id)
    assert record.id == same.id and record.id.startswith(f"run:{outcome.run_id}:")
    names = {(r["node"], r["type"]) for r in rows}
    assert {("Toy child", "Style"), ("little", "Marker"), ("Small talk", "Trait")} <= names
    assert all(r["direction"] in ("fell", "rose", "unchanged", "absent") for r in rows)
    assert all(r["before_low"] <= r["before"] <= r["before_high"] for r in rows)
    effects = json.loads((outcome.run_dir / "effects.json").read_text())
    assert {r["phrase"] for r in rose} == {s["name"] for s in effects["substitutions"][:30]}


def test_report_and_graph_show_the_audit(audited) -> None:
    _, outcome = audited
    report = outcome.report_md.read_text()
    assert "What happened to every node (the audit)" in report and "own markers on their own family" in report
    page = (outcome.run_dir / "graph.html").read_text()
    assert "absent" in page and "not measured" in page
