"""Model listing, cache preparation and descriptions (what ``stylekg models`` prints)."""

from __future__ import annotations

import importlib.util
from typing import Any

from .architectures import architecture_of
from .errors import UnknownModelError
from .loading import MANIFEST, _cache_entry, gguf_source, load_model, prepare
from .registry import REGISTRY, Source


def _installed(name: str) -> bool:
    spec = REGISTRY[name]
    if spec.source is not Source.GGUF_PACKAGE:
        return True
    return importlib.util.find_spec(spec.module) is not None  # type: ignore[arg-type]


def list_models() -> list[dict[str, Any]]:
    rows = []
    for name, spec in sorted(REGISTRY.items()):
        installed = _installed(name)
        cached = False
        if installed and spec.source is Source.GGUF_PACKAGE and not spec.chunked:
            cached = (_cache_entry(spec, gguf_source(spec)) / MANIFEST).exists()
        elif spec.source is Source.TINY:
            cached = True
        elif installed and spec.chunked:
            from .cache import cache_dir

            cached = any(cache_dir("models").glob(f"{name}-*/{MANIFEST}"))
        rows.append(
            {"name": name, "source": spec.source.value, "installed": installed, "cached": cached, "description": spec.description}
        )
    return rows


def pull_model(name: str, *, force: bool = False) -> dict[str, Any]:
    spec = REGISTRY.get(name)
    if spec is None:
        raise UnknownModelError(f"unknown model {name!r}", hint=f"use one of {', '.join(sorted(REGISTRY))}")
    if spec.source is not Source.GGUF_PACKAGE:
        return {"name": name, "cache_path": "(built from config, nothing to cache)"}
    entry = prepare(spec, force=force)
    return {"name": name, "cache_path": str(entry), "source": str(gguf_source(spec))}


def model_info(name: str, *, device: str = "cpu", dtype: str = "float32") -> dict[str, Any]:
    lm = load_model(name, device=device, dtype=dtype)
    arch = architecture_of(lm.model)
    cfg = lm.model.config.get_text_config() if hasattr(lm.model.config, "get_text_config") else lm.model.config
    n_params = sum(p.numel() for p in lm.model.parameters())
    mlp_out = lm.model.get_submodule(arch.site("mlp_out", 0)).weight
    return {
        "name": name,
        "class": type(lm.model).__name__,
        "layers": arch.num_layers(lm.model),
        "hidden_size": arch.hidden_size(lm.model),
        "mlp_hidden": int(arch.as_out_in(mlp_out).shape[1]),
        "vocab_size": int(getattr(cfg, "vocab_size", len(lm.tokenizer))),
        "parameters": n_params,
        "weight_layout": arch.layout.value,
        "mlp_out_module": arch.site("mlp_out", 0).replace(".0.", ".{}."),
        "device": str(lm.device),
        "dtype": str(next(lm.model.parameters()).dtype),
        "origin": lm.origin,
        "cache_path": str(lm.cache_path) if lm.cache_path else None,
    }
