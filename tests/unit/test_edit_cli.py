"""``stylekg edit`` on the tiny GPT-2: summary before/after, per-case JSON and a re-appliable delta file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.editing.requests_io import write_requests
from stylekg.errors import EditError

from .edit_helpers import REQUESTS


def test_edit_command_writes_summary_cases_and_delta(home, tmp_path) -> None:
    requests = write_requests(REQUESTS, tmp_path / "req.jsonl")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["edit", "--method", "rome", "--model", "tiny-gpt2", "--requests", str(requests),
                                      "--out", str(out), "--stats-samples", "300", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["method"] == "rome" and summary["n_requests"] == 2
    assert summary["after"]["efficacy_score"] == 1.0
    assert summary["after"]["prob_new"] > summary["before"]["prob_new"]
    assert json.loads((out / "summary.json").read_text())["after"] == summary["after"]
    cases = json.loads((out / "cases.json").read_text())
    assert len(cases["before"]) == len(cases["after"]) == 2
    assert (out / "edit.safetensors").stat().st_size > 0


def test_edit_command_rejects_bad_input(home, tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["edit", "--model", "tiny-gpt2", "--out", str(tmp_path)])
    assert isinstance(res.exception, EditError) and "exactly one of --requests" in str(res.exception)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"requested_rewrite": {"prompt": "x {}", "subject": "y"}}\n')
    res = runner.invoke(app, ["edit", "--model", "tiny-gpt2", "--requests", str(bad), "--out", str(tmp_path)])
    assert isinstance(res.exception, EditError) and "line 1" in str(res.exception)


def test_edit_command_sequential_batches(home, tmp_path) -> None:
    requests = write_requests(REQUESTS, tmp_path / "req.jsonl")
    out = tmp_path / "seq"
    result = CliRunner().invoke(app, ["edit", "--method", "memit", "--model", "tiny-gpt2", "--requests", str(requests),
                                      "--out", str(out), "--stats-samples", "300", "--sequential", "--batch", "1",
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["after"]["efficacy_score"] == 1.0 and summary["n_requests"] == 2
    res = CliRunner().invoke(app, ["edit", "--method", "memit", "--model", "tiny-gpt2", "--requests", str(requests),
                                   "--out", str(out), "--batch", "2"])
    assert isinstance(res.exception, EditError) and "--sequential" in str(res.exception)
