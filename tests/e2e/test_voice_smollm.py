"""The demo on the real SmolLM2 (slow): its own assistant voice, measured in what it writes, erased through the
abstract parent, judged on held-out prompts, written back per subclass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stylekg.kg import queries
from stylekg.kg.stores import open_store
from stylekg.pipeline import Pipeline, RunConfig

pytestmark = pytest.mark.slow
DEMO = Path(__file__).resolve().parents[2] / "stylekg" / "configs" / "demo.toml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("voice")
    cfg = RunConfig.from_toml(DEMO, store=str(tmp / "g.lbug"), runs_dir=str(tmp / "runs"))
    return cfg, Pipeline(cfg).run()


def test_the_model_writes_the_voice_and_the_erase_removes_it_from_held_out_answers(demo) -> None:
    cfg, outcome = demo
    s = outcome.summary
    rows = {r.name: r for r in s.styles}
    speak = rows["Assistant-speak"].metrics
    # presence in generation, before any edit: clearly above zero (the interval excludes 0)
    assert speak["gen_marker_rate_low_before"] > 0, speak
    # erased through the parent: the held-out intervals do not overlap
    assert speak["gen_marker_rate_high_after"] < speak["gen_marker_rate_low_before"], speak
    parent = next(r for r in s.styles if r.role == "edited")
    assert parent.name == "Formulaic register" and parent.metrics["gen_marker_rate_after"] < parent.metrics[
        "gen_marker_rate_before"]
    fluency = s.generation["fluency"]
    assert fluency["after"]["gen_fluency_ppl"] <= 1.2 * fluency["before"]["gen_fluency_ppl"], fluency
    assert fluency["after"]["gen_facts_kept"] >= 0.9, fluency
    assert s.generation["guard"][-1]["passed"] and len(s.generation["examples"]) == 3
    assert s.install is None  # never installs what it erases


def test_subclass_effects_are_in_the_store(demo) -> None:
    cfg, outcome = demo
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    node = summary["edited_node"]["id"]
    with open_store(cfg.store) as store:
        runs = [r for r in store.runs("library") if r.kind == "edit"]
        measured = {t.target_id: t.metrics for t in runs[0].targets}
        rows = store.query(summary["cypher"][0]["query"], summary["cypher"][0]["params"])
        effects = queries.subclass_effects(store, "library", node)
    for sid in ("Style:assistant-speak", "Style:corporate-memo"):
        assert {"gen_marker_rate_before", "gen_marker_rate_after"} <= set(measured[sid])
    assert {r["metric"] for r in rows} >= {"gen_marker_rate_before", "gen_marker_rate_after"}
    assert effects and (outcome.run_dir / "graph.html").exists() and outcome.report_html.exists()
    assert "The style in generated text" in outcome.report_html.read_text()
