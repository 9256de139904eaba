"""Issue 14 item 12: a run that cannot work stops before it writes anything: an unknown style, model, method or
device leaves no run directory and no graph in the store."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("args, needle", [
    (["Professor Zorblax", "--model", "tiny-gpt2"], "Professor Zorblax"),
    (["Yoda", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["Yoda", "--model", "tiny-gpt2", "--method", "no-such-method"], "no-such-method"),
    (["Yoda", "--model", "tiny-gpt2", "--node", "No Such Node"], "No Such Node"),
    (["Yoda", "--model", "tiny-gpt2", "--device", "cuda:99"], "cuda:99"),
    (["--auto", "American talk-show hosts", "--model", "no-such-model"], "no-such-model"),
])
def test_a_run_that_cannot_work_writes_nothing(cli, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "graph.lbug"
    result = cli("run", *args, "--store", store, "--runs-dir", tmp_path / "runs")
    assert result.code == 2 and needle in result.err and len(result.err_lines) == 1, result.err
    assert not (tmp_path / "runs").exists(), list((tmp_path / "runs").rglob("*"))
    assert not store.exists()
