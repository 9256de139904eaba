"""``stylekg run`` on the tiny model: the whole pipeline, resume, interruption and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylekg.kg.stores import open_store
from stylekg.pipeline import Pipeline, stages, RunConfig
from stylekg.errors import RunError


def _config(tmp_path: Path, **kw) -> RunConfig:
    base = dict(style="Donald Trump", mode="erase", propagate="explicit", method="memit", model="tiny-gpt2",
                store=str(tmp_path / "graph.lbug"), runs_dir=str(tmp_path / "runs"), trace_samples=2, trace_facts=1,
                generations=2, max_markers=2)
    base.update(kw)
    return RunConfig(**base)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = _config(tmp)
    return cfg, Pipeline(cfg).run()


def test_run_writes_report_summary_and_store(finished) -> None:
    cfg, outcome = finished
    assert outcome.report_html.exists() and outcome.report_md.exists()
    assert (outcome.run_dir / "graph.html").exists() and (outcome.run_dir / "edit.safetensors").exists()
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    roles = {row["role"] for row in summary["styles"]}
    assert {"edited", "subclass", "unrelated"} <= roles
    assert summary["edited_node"]["type"] == "AbstractStyle"
    # explicit propagation: every subclass style of the edited parent got requests of its own
    # (the parent's own requests name it in English, "people who exaggerate": compare the subjects' node ids)
    subjects = {r["requested_rewrite"]["subject_id"] for r in summary["requests"]}
    assert "Style:donald-trump" in subjects and summary["edited_node"]["id"] in subjects and len(subjects) >= 3
    assert summary["traces"] and Path(outcome.run_dir / summary["traces"][0]["png"]).exists()
    with open_store(cfg.store) as store:
        runs = [r for r in store.runs("library") if r.id.startswith(f"run:{outcome.run_id}")]
        assert len([r for r in runs if r.kind == "trace"]) == len(summary["traces"])
        runs = [r for r in runs if r.kind == "edit"]
        assert len(runs) == 1
        measured = {t.target_id for t in runs[0].targets}
        assert summary["edited_node"]["id"] in measured
        rows = store.query(summary["cypher"][0]["query"], summary["cypher"][0]["params"])
    assert rows == summary["cypher"][0]["rows"] and rows


def test_rerun_resumes_every_stage(finished) -> None:
    cfg, first = finished
    again = Pipeline(cfg).run()
    assert again.run_dir == first.run_dir
    assert set(again.summary.resumed) >= {"graph", "presence", "trace", "requests", "edit", "after", "writeback"}
    assert again.summary.styles == first.summary.styles


def test_interrupted_stage_resumes_and_writes_nothing_early(tmp_path, monkeypatch) -> None:
    cfg = _config(tmp_path, max_markers=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "apply_edit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(cfg).run()
    run_dir = Path(cfg.runs_dir) / Pipeline(cfg).run_id
    assert not (run_dir / "edit.safetensors").exists() and not (run_dir / "stages" / "edit.json").exists()
    with open_store(cfg.store) as store:  # a failed run leaves the store as it was: no graph, no run
        assert not store.list_graphs() and not store.runs("library")
    monkeypatch.undo()
    outcome = Pipeline(cfg).run()
    assert {"graph", "presence", "trace", "requests", "before"} <= set(outcome.summary.resumed)
    assert "edit" not in outcome.summary.resumed


def test_implicit_edits_parent_only_and_measures_subclasses(tmp_path) -> None:
    cfg = _config(tmp_path, style="Yoda", propagate="implicit", max_markers=1)
    pipe = Pipeline(cfg)
    outcome = pipe.run()
    edited = [r for r in outcome.summary.styles if r.role == "edited"]
    subclasses = [r for r in outcome.summary.styles if r.role == "subclass"]
    assert len(edited) == 1 and subclasses
    delta_requests = json.loads((outcome.run_dir / "stages" / "requests.json").read_text())["output"]["requests"]
    assert {r["requested_rewrite"]["subject_id"] for r in delta_requests} == {edited[0].node_id}


def test_edit_never_changes_the_loaded_weights_on_disk(finished) -> None:
    """Edits live in memory and in the run's delta file; a fresh load is the original model."""
    from stylekg.lm import load_model

    cfg, outcome = finished
    fresh, again = load_model("tiny-gpt2"), load_model("tiny-gpt2")
    for (name, a), (_, b) in zip(fresh.model.named_parameters(), again.model.named_parameters()):
        assert torch.equal(a, b), name


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "stylekg.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_unknown_style_without_llm_names_the_fix(tmp_path) -> None:
    out = _cli("run", "Professor Zorblax", "--model", "tiny-gpt2", "--store", str(tmp_path / "g.lbug"), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "OPENAI_BASE_URL" in out.stderr and "Donald Trump" in out.stderr


def test_unreachable_store_is_a_clear_error_and_writes_nothing(tmp_path) -> None:
    out = _cli("run", "Yoda", "--model", "tiny-gpt2", "--store", "neo4j://127.0.0.1:9", "--runs-dir", "runs", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "127.0.0.1:9" in out.stderr or "neo4j" in out.stderr.lower()
    stage_files = list((tmp_path / "runs").glob("*/stages/*.json"))
    assert stage_files == []


def test_config_file_reproduces_a_run(finished, tmp_path) -> None:
    cfg, outcome = finished
    recorded = RunConfig.from_toml(outcome.run_dir / "config.toml")
    assert recorded == cfg
    with pytest.raises(Exception, match="unknown key"):
        bad = tmp_path / "bad.toml"
        bad.write_text('[run]\nstyle = "Yoda"\nstlye = "typo"\n')
        RunConfig.from_toml(bad)


def test_style_without_abstract_parent_markers_is_named(tmp_path) -> None:
    with pytest.raises((RunError, Exception)):
        Pipeline(_config(tmp_path, style="Neutral", propagate="explicit")).run()
