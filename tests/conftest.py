"""Shared fixtures: the tiny random GPT-2 (fast) and the real SmolLM2 (slow), offline only."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.store_fixtures import *  # noqa: E402,F401,F403  (store, store_kind, neo4j_uri: one Neo4j per session)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# Models are cached in the user's real stylekg home even when a test isolates STYLEKG_HOME.
_MODEL_HOME = os.environ.get("STYLEKG_HOME")


def _load(name: str):
    from stylekg.lm import load_model

    with pytest.MonkeyPatch.context() as mp:
        if _MODEL_HOME:
            mp.setenv("STYLEKG_HOME", _MODEL_HOME)
        else:
            mp.delenv("STYLEKG_HOME", raising=False)
        return load_model(name)


@pytest.fixture(scope="session")
def tiny():
    """The tiny random GPT-2 (Conv1D layout) as a LoadedModel; do not leave it edited."""
    return _load("tiny-gpt2")


@pytest.fixture(scope="session")
def smollm():
    """The real SmolLM2-135M-Instruct (Llama layout) as a LoadedModel; do not leave it edited."""
    return _load("smollm2-135m")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """An isolated STYLEKG_HOME for tests that write caches or stores (models stay in the real cache)."""
    monkeypatch.setenv("STYLEKG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
