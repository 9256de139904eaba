"""Guarded edits cached across run directories: a hit copies the delta and skips the edit; other weights miss."""

from __future__ import annotations

import torch

from stylekg.pipeline.weights_cache import cached_edit, weights_key


def test_a_second_run_reads_the_delta_and_other_weights_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEKG_HOME", str(tmp_path / "home"))
    model = torch.nn.Linear(3, 2)
    calls = []

    def run(delta):
        def make():
            calls.append(delta)
            delta.parent.mkdir(parents=True, exist_ok=True)
            delta.write_bytes(b"weights-delta")
            return {"params_changed": 6}
        return make

    key = weights_key(model, ["penalty-ft", {"lr": 1e-3}])
    first = cached_edit(key, tmp_path / "a" / "edit.safetensors", run(tmp_path / "a" / "edit.safetensors"))
    second = cached_edit(key, tmp_path / "b" / "edit.safetensors", run(tmp_path / "b" / "edit.safetensors"))
    assert first == second == {"params_changed": 6} and len(calls) == 1
    assert (tmp_path / "b" / "edit.safetensors").read_bytes() == b"weights-delta"
    assert weights_key(model, ["penalty-ft", {"lr": 2e-3}]) != key
    with torch.no_grad():
        model.weight[0, 0] += 1e-3
    assert weights_key(model, ["penalty-ft", {"lr": 1e-3}]) != key
