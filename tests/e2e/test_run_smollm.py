"""``stylekg run`` on the real SmolLM2 (slow): install-then-erase for a style the model lacks (Donald Trump):
install through the parent, erase, write back, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stylekg.kg.stores import open_store
from stylekg.pipeline import Pipeline, RunConfig

pytestmark = pytest.mark.slow


def test_install_then_erase_on_smollm2(tmp_path) -> None:
    cfg = RunConfig.from_toml(Path(__file__).resolve().parents[2] / "stylekg" / "configs" / "install-then-erase.toml", store=str(tmp_path / "g.lbug"), runs_dir=str(tmp_path / "runs"))
    cfg = type(cfg)(**{**cfg.to_dict(), "max_markers": 1, "generations": 1, "trace_samples": 2, "trace_facts": 0})
    outcome = Pipeline(cfg).run()
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    # SmolLM2 holds (almost) none of Donald Trump's markers, so they are installed and verified first
    assert summary["presence"]["n_present"] < len(summary["presence"]["markers"]) / 2
    assert summary["install"] and summary["install"]["verified"]
    rows = {r["name"]: r for r in summary["styles"]}
    edited = [r for r in summary["styles"] if r["role"] == "edited"][0]
    # the erase moves the parent's marker below its neutral form and lowers it on the subclasses
    assert edited["marker_rate_after"] < edited["marker_rate_before"]
    subclasses = [r for r in summary["styles"] if r["role"] == "subclass"]
    assert subclasses and sum(r["presence_after"] < r["presence_before"] for r in subclasses) >= len(subclasses) - 1
    for r in summary["styles"]:
        if r["role"] == "unrelated":
            assert abs(r["presence_after"] - r["presence_before"]) < 0.5, rows
    with open_store(cfg.store) as store:
        assert any(r.kind == "edit" for r in store.runs("library"))
    assert outcome.report_html.exists()
