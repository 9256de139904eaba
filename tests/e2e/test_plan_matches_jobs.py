"""``stylekg kg requests --json`` prints exactly what ``run``, ``edit`` and ``compare`` hand the editing method.

Each job runs for real on the tiny GPT-2 with MEMIT; a spy around the method's ``apply`` (reached through the
registry, as every job reaches it) records the requests and the preserved set it was given.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.editing.registry import package_of
from stylekg.kg.io import save_graph
from stylekg.kg.library import load_library
from stylekg.pipeline import Pipeline, RunConfig
from stylekg.requests import to_record

runner = CliRunner()


@pytest.fixture()
def handed(monkeypatch) -> list[dict]:
    """Every call of MEMIT's apply: the requests and the preserved set it got, as JSON."""
    module = importlib.import_module(package_of("memit"))
    real, calls = module.apply, []

    def spy(model, tokenizer, requests, hparams, context=None):
        calls.append({"requests": [to_record(r) for r in requests],
                      "preserved": [p.to_json() for p in (context.preserved if context else ())]})
        return real(model, tokenizer, requests, hparams, context)

    monkeypatch.setattr(module, "METHOD", dataclasses.replace(module.METHOD, apply=spy))  # what get_method returns
    return calls


def _printed(*args: str) -> dict:
    res = runner.invoke(app, ["kg", "requests", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _same(plan: dict, call: dict) -> None:
    assert call["requests"] == plan["requests"] and call["preserved"] == plan["preserved"]
    assert plan["requests"] and plan["preserved"]


def test_edit_applies_what_kg_requests_prints(tmp_path: Path, handed: list[dict], home) -> None:
    graph = tmp_path / "library.json"
    save_graph(load_library(), graph)
    flags = ["--graph", str(graph), "--propagate", "implicit"]
    plan = _printed("Exaggeration", *flags)
    res = runner.invoke(app, ["edit", "--node", "Exaggeration", *flags, "--model", "tiny-gpt2", "--method", "memit",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert len(handed) == 1
    _same(plan, handed[0])
    assert plan["probes"]  # implicit: the subclasses' copies are measured, not handed over


def test_run_edits_what_kg_requests_prints_for_its_config(tmp_path: Path, handed: list[dict], home) -> None:
    cfg = RunConfig(style="Donald Trump", model="tiny-gpt2", method="memit", store=str(tmp_path / "g.lbug"),
                    runs_dir=str(tmp_path / "runs"), trace_samples=1, trace_facts=0, generations=0, max_markers=1,
                    install_if_absent=False)
    config = tmp_path / "run.toml"
    config.write_text(cfg.to_toml(), encoding="utf-8")
    plan = _printed("--job", "run", "--config", str(config))
    flags = _printed("Donald Trump", "--job", "run", "--max-markers", "1")  # the same run, spelled as flags
    assert flags == plan and plan["propagate"] == "explicit" and plan["node"].startswith("AbstractStyle:")
    Pipeline(cfg).run()
    assert len(handed) == 1
    _same(plan, handed[0])


def test_compare_edits_what_kg_requests_prints(tmp_path: Path, handed: list[dict], home) -> None:
    from stylekg.lm import load_model
    from stylekg.pipeline.compare import compare_style

    plan = _printed("Yoda", "--job", "compare")
    result = compare_style(load_model("tiny-gpt2"), "Yoda", ["memit"], max_markers=2)
    # the guarded row, then the same method without the guard (the plain reference method) on the same requests
    assert len(handed) == 2 and result["requests"] == len(plan["requests"])
    _same(plan, handed[0])
    assert handed[1]["requests"] == handed[0]["requests"] and handed[1]["preserved"] == []
    assert [r["method"] for r in result["rows"]] == ["none", "memit", "memit (no guard)"]
    assert "Style:yoda" not in {r["requested_rewrite"]["subject_id"] for r in plan["unrelated"]}
