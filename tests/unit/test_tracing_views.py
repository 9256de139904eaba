"""AIE, plots, comparison, layer selection and the CLI on the tiny GPT-2."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
from typer.testing import CliRunner

from stylekg.tracing import TraceParams, make_target, trace
from stylekg.tracing.aie import ROLES, average_indirect_effect, role_rows
from stylekg.tracing.site_comparison import DEFAULT_CASES, compare_results, run_cases
from stylekg.tracing.plots import plot_trace
from stylekg.tracing.select_layers import critical_window, select_layers

PARAMS = TraceParams(samples=2, window=2)


def test_role_rows_partition_the_prompt():
    rows = role_rows((1, 4), 9)
    assert rows["first subject token"] == [1] and rows["middle subject tokens"] == [2]
    assert rows["last subject token"] == [3] and rows["first subsequent token"] == [4]
    assert rows["further tokens"] == [5, 6, 7] and rows["last token"] == [8]


def test_aie_and_plots(tiny, tmp_path):
    results = [
        trace(tiny, p, s, make_target(tiny.tokenizer, " Seattle"), PARAMS)
        for p, s in [("The Space Needle is located in the city of", "The Space Needle"), ("Paris is a city in", "Paris")]
    ]
    aie = average_indirect_effect(results)
    assert aie.effects["mlp"].shape == (len(ROLES), tiny.num_layers)
    # "last token" row: mean of each prompt's last-token effect
    expected = np.mean([r.effect("mlp")[-1] for r in results], axis=0)
    assert np.allclose(aie.effects["mlp"][ROLES.index("last token")], expected)
    assert aie.counts[ROLES.index("middle subject tokens")] == 1  # "Paris" has no middle tokens
    paths = plot_trace(results[0], tmp_path / "trace") + aie.plot(tmp_path / "aie")
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
    assert {p.suffix for p in paths} == {".png", ".svg"}


def test_compare_identical_inputs_are_similar(tiny, tmp_path):
    results = run_cases(tiny, DEFAULT_CASES[:2], PARAMS)
    results["copy"] = next(iter(results.values()))
    comparison = compare_results(results)
    sim = comparison.similarity["residual"]
    assert sim.shape == (3, 3) and sim[0, 2] == pytest.approx(1.0)
    assert all(p.exists() for p in comparison.plot(tmp_path / "cmp"))


def test_critical_window_and_select_layers(tiny, tmp_path):
    assert critical_window(np.array([0, 1, 5, 4, 0, 0.5]), 2) == [2, 3]
    suggestion = select_layers(tiny, [("Paris is a city in", "Paris")], TraceParams(samples=2), size=2)
    assert len(suggestion.effect) == tiny.num_layers and len(suggestion.window) == 2
    assert suggestion.peak_layer == int(np.argmax(suggestion.effect))
    data = tomllib.loads(suggestion.write(tmp_path / "h.toml").read_text())
    assert data["layers"] == suggestion.window


def test_cli_fact_json_and_error(home, tmp_path):
    from stylekg.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["trace", "fact", "Paris is a city in", "--subject", "Paris", "--target", " France",
                              "--model", "tiny-gpt2", "--samples", "2", "--kind", "mlp", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    a, b = data["subject_span"]
    assert "".join(data["tokens"][a:b]) == "Paris" and "mlp_peak_layer" in data["metrics"]
    assert (tmp_path / "trace.json").exists() and (tmp_path / "trace.png").exists()
    bad = runner.invoke(app, ["trace", "fact", "Paris is a city in", "--subject", "Rome", "--model", "tiny-gpt2"])
    assert bad.exit_code != 0
