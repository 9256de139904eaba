"""The Python front door (``import stylekg``): lazy, typed, and the README's example runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import stylekg

ROOT = Path(__file__).resolve().parents[2]


def test_import_stylekg_stays_light() -> None:
    code = "import stylekg, sys; print('torch' in sys.modules, 'stylekg.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def test_the_front_door_names() -> None:
    assert set(stylekg.__all__) == {"__version__", "edit", "load_graph", "load_model", "measure_style", "plan", "run"}
    assert {"plan", "edit"} <= set(dir(stylekg))
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        stylekg.nonsense  # noqa: B018


def test_the_readme_example_runs_on_the_tiny_model() -> None:
    """The README's five lines, with the tiny GPT-2: the edit changes weights and restore() is bit-identical."""
    lm = stylekg.load_model("tiny-gpt2")
    original = {k: v.detach().clone() for k, v in lm.model.state_dict().items()}
    plan = stylekg.plan("Yoda", mode="erase")
    result = stylekg.edit(lm, plan, method="memit")
    assert result.params_changed > 0
    assert any(not torch.equal(original[k], v) for k, v in lm.model.state_dict().items())
    result.restore()
    assert all(torch.equal(original[k], v) for k, v in lm.model.state_dict().items())
    readme = (ROOT / "README.md").read_text("utf-8")
    assert ('plan = stylekg.plan("Yoda", mode="erase")\nresult = stylekg.edit(lm, plan, method="memit")\n'
            "result.restore()") in readme


def test_plan_is_the_plan_kg_requests_prints(tmp_path) -> None:
    from typer.testing import CliRunner

    from stylekg.cli import app

    res = CliRunner().invoke(app, ["kg", "requests", "Exaggeration", "--propagate", "explicit", "--json"])
    assert res.exit_code == 0, res.output
    printed = __import__("json").loads(res.output)
    assert {"job": "edit", **stylekg.plan("Exaggeration", propagate="explicit").to_json()} == printed
    graph = stylekg.load_graph()
    assert stylekg.plan("Yoda", graph=graph, max_markers=1).to_json() == stylekg.plan("Yoda", max_markers=1).to_json()


def test_measure_style_in_generation(tiny) -> None:
    report = stylekg.measure_style(tiny, "Yoda", max_new_tokens=4, classifier=False)
    assert report.style == "Yoda" and report.split == "heldout"
    assert report.marker_rate.per_1k >= 0 and "gen_marker_rate" in report.metrics()
