"""LLM decomposition of styles into graphs, and the small client abstraction it shares with judges."""

from __future__ import annotations

from ...errors import LLMError
from .auto import AutoResult, auto
from .client import Completion, LLMClient, check_schema, parse_json, repair_json
from .decompose import DECOMPOSITION_SCHEMA, EXPAND_SCHEMA, Decomposition, build_prompt, decompose

PROVIDERS = ("openai", "local", "library")

__all__ = [
    "PROVIDERS", "AutoResult", "auto", "Completion", "LLMClient", "check_schema", "parse_json", "repair_json",
    "DECOMPOSITION_SCHEMA", "EXPAND_SCHEMA", "Decomposition", "build_prompt", "decompose", "make_client",
]


def make_client(provider: str, model: str | None = None, *, max_retries: int = 2, cache: bool = True,
                device: str = "cpu", max_tokens: int | None = None) -> LLMClient:
    """A client for ``provider`` (openai | local | library); ``max_tokens``: the openai answer budget."""
    if provider == "openai":
        from .openai_client import OpenAIClient

        extra = {"max_tokens": max_tokens} if max_tokens else {}
        return OpenAIClient(model, max_retries=max_retries, cache=cache, **extra)
    if provider == "local":
        from .local import LocalClient

        return LocalClient(model or "smollm2-135m", max_retries=max_retries, device=device)
    if provider == "library":
        from .library_client import LibraryClient

        return LibraryClient()
    raise LLMError(f"unknown provider {provider!r}", hint=f"use one of {', '.join(PROVIDERS)}")
