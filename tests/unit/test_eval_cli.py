"""`stylekg eval` on tiny GPT-2 through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.editing.result import EditResult
from stylekg.errors import EvaluationError

runner = CliRunner()

RECORD = {"case_id": 1, "requested_rewrite": {"prompt": "The capital of {} is", "subject": "France",
                                              "target_new": {"str": "Rome"}, "target_true": {"str": "Paris"}},
          "paraphrase_prompts": ["France's capital city is"], "neighborhood_prompts": ["The capital of Germany is"]}


@pytest.fixture()
def requests_file(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return path


def test_eval_requests_json_and_out(requests_file, tmp_path, home):
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", "--model", "tiny-gpt2", "--requests", str(requests_file), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n_cases"] == 1 and 0.0 <= data["summary"]["efficacy_score"] <= 1.0
    assert (out / "summary.json").exists() and (out / "cases.json").exists()


def test_eval_with_a_delta_file_changes_the_numbers_and_restores(tiny, requests_file, tmp_path, home):
    name = "transformer.ln_f.bias"
    result = EditResult("test", [])
    rome = tiny.tokenizer(" Rome", add_special_tokens=False)["input_ids"]
    direction = tiny.model.get_output_embeddings().weight.detach()[rome].mean(0)
    result.add_delta(tiny.model, name, 5.0 * direction / direction.norm())
    delta = result.save(tmp_path / "delta.safetensors")
    result.restore()
    plain = runner.invoke(app, ["eval", "-m", "tiny-gpt2", "-r", str(requests_file), "--json"])
    edited = runner.invoke(app, ["eval", "-m", "tiny-gpt2", "-r", str(requests_file), "--delta", str(delta), "--json"])
    assert plain.exit_code == 0 and edited.exit_code == 0, edited.output
    before, after = json.loads(plain.stdout)["summary"], json.loads(edited.stdout)["summary"]
    assert after["prob_new"] > before["prob_new"]


def test_eval_presence_with_markers(home):
    result = runner.invoke(app, ["eval", "presence", "Donald Trump", "-m", "tiny-gpt2", "--marker", "tremendous",
                                 "--marker", "believe me", "--samples", "0", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["marker"] for m in data["markers"]] == ["tremendous", "believe me"]
    assert data["threshold"] == 1.0 and "present_markers" in data


def test_eval_without_requests_is_a_clear_error():
    result = runner.invoke(app, ["eval", "-m", "tiny-gpt2"])
    assert isinstance(result.exception, EvaluationError) and "--requests" in str(result.exception)
