"""The real SmolLM2: loads offline, answers a fact, and its safetensors cache is faithful and reused."""

from __future__ import annotations

import json

import pytest
import torch

from stylekg.lm import REGISTRY, load_model
from stylekg.lm import loading
from stylekg.lm.generation import generate, next_token_top

pytestmark = pytest.mark.slow


def test_answers_capital_of_france(smollm) -> None:
    assert type(smollm.model).__name__ == "LlamaForCausalLM"
    assert smollm.num_layers == 30
    completion = generate(smollm, ["The capital of France is"], max_new_tokens=3)[0]
    assert completion.strip().startswith("Paris")
    token, prob = next_token_top(smollm, "The capital of France is", k=1)[0]
    assert token.strip() == "Paris" and prob > 0.3


def test_cache_is_reused_on_second_load(smollm) -> None:
    manifest = smollm.cache_path / loading.MANIFEST
    before = manifest.stat().st_mtime_ns
    again = load_model("smollm2-135m")
    assert again.cache_path == smollm.cache_path
    assert again.timings["cold"] == 0.0
    assert manifest.stat().st_mtime_ns == before
    assert json.loads(manifest.read_text())["source_sha256"] == loading.sha256_file(loading.gguf_source(REGISTRY["smollm2-135m"]))


def test_cached_weights_equal_the_gguf_dequantization(smollm) -> None:
    source = loading.gguf_source(REGISTRY["smollm2-135m"])
    direct, _ = loading._load_dir(source.parent, torch.float32, torch.device("cpu"), gguf_file=source.name)
    cached = dict(smollm.model.named_parameters())
    for name, param in direct.named_parameters():
        assert torch.equal(param, cached[name]), name
