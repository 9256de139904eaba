"""Load models by registry name, local directory or cached hub id; cache dequantized GGUF weights.

A GGUF-loaded model refuses ``save_pretrained``, so the dequantized weights are written with
safetensors next to the config and tokenizer, in ``$STYLEKG_HOME/models/<name>-<sha>``, where
``<sha>`` is the sha256 of the source GGUF: a changed source file gets a new cache entry.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .architectures import Architecture, architecture_of
from .cache import cache_dir, sha256_file
from .errors import CacheCorruptError, MissingPackageError, ModelError, UnknownModelError
from .registry import REGISTRY, ModelSpec, Source

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the cache layout changes
WEIGHTS = "model.safetensors"
MANIFEST = "stylekg-manifest.json"


@dataclass
class LoadedModel:
    """A model with its tokenizer and architecture entry; ``origin`` says where it came from."""

    name: str
    model: torch.nn.Module
    tokenizer: object
    arch: Architecture
    origin: str
    cache_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def num_layers(self) -> int:
        return self.arch.num_layers(self.model)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" → cuda when present else cpu; anything else as given (validated)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but no CUDA device is available", hint="use --device cpu")
    return dev


def gguf_source(spec: ModelSpec) -> Path:
    """Path of a registered model's GGUF file, assembling chunked packages when needed."""
    assert spec.module and spec.gguf_file
    found = importlib.util.find_spec(spec.module)  # locates the package without importing it
    if found is None or not found.submodule_search_locations:
        raise MissingPackageError(
            f"model {spec.name!r} needs the Python package {spec.module.replace('_', '-')}, which is not installed",
            hint=f"run `{spec.install}` (or `make demo`, which installs it)",
        )
    package_dir = Path(next(iter(found.submodule_search_locations)))
    if not spec.chunked:
        path = package_dir / spec.gguf_file
        if not path.exists():
            raise MissingPackageError(f"{path} is missing from its package", hint=f"reinstall: `{spec.install}`")
        return path
    target = cache_dir("gguf") / spec.gguf_file
    try:
        module = importlib.import_module(spec.module)
        return Path(module.assemble(output_path=target))
    except (ImportError, FileNotFoundError) as exc:
        raise MissingPackageError(f"chunks of {spec.name!r} are missing: {exc}", hint=f"run `{spec.install}`") from exc
    except (FileExistsError, ValueError):
        target.unlink(missing_ok=True)  # a stale or partial assembly: rebuild it from the chunks
        module = importlib.import_module(spec.module)
        return Path(module.assemble(output_path=target))


def _cache_entry(spec: ModelSpec, source: Path) -> Path:
    digest = sha256_file(source)
    return cache_dir("models") / f"{spec.name}-{digest[:20]}-v{CACHE_FORMAT}"


def _write_cache(entry: Path, model: torch.nn.Module, tokenizer, source: Path) -> None:
    from safetensors.torch import save_model

    tmp = entry.with_name(entry.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.config.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    save_model(model, str(tmp / WEIGHTS))  # drops tied duplicates; from_pretrained re-ties them
    manifest = {
        "source": str(source),
        "source_sha256": sha256_file(source),
        "weights_bytes": (tmp / WEIGHTS).stat().st_size,
        "format": CACHE_FORMAT,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(entry, ignore_errors=True)
    tmp.rename(entry)  # atomic publish: a crash never leaves a half-written entry in place


def _check_cache(entry: Path) -> None:
    from safetensors import safe_open

    weights = entry / WEIGHTS
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        if weights.stat().st_size != manifest["weights_bytes"]:
            raise ValueError(f"size {weights.stat().st_size} != recorded {manifest['weights_bytes']}")
        with safe_open(str(weights), framework="pt") as handle:
            handle.keys()
    except Exception as exc:  # any unreadable part means the entry cannot be trusted
        raise CacheCorruptError(
            f"cached weights at {entry} are corrupt ({type(exc).__name__}: {exc})",
            hint=f"delete that folder or run `stylekg models pull --force` to rebuild it",
        ) from exc


def _load_dir(path: Path, dtype: torch.dtype, device: torch.device, gguf_file: str | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(path), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **kwargs)
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def prepare(spec: ModelSpec, *, force: bool = False) -> Path:
    """Make sure the safetensors cache of a GGUF model exists; return its folder."""
    source = gguf_source(spec)
    entry = _cache_entry(spec, source)
    if force:
        shutil.rmtree(entry, ignore_errors=True)
    if not (entry / MANIFEST).exists():
        log.info("dequantizing %s once into %s", source.name, entry)
        model, tokenizer = _load_dir(source.parent, torch.float32, torch.device("cpu"), gguf_file=source.name)
        _write_cache(entry, model, tokenizer, source)
    return entry


def load_model(
    name: str,
    *,
    device: str | torch.device | None = "cpu",
    dtype: torch.dtype = torch.float32,
) -> LoadedModel:
    """Load a model by registry name, local HF directory, or hub id present in the local cache."""
    dev = resolve_device(device)
    started = time.perf_counter()
    spec = REGISTRY.get(name)
    if spec is not None and spec.source is Source.TINY:
        from .tiny import tiny_gpt2

        model, tokenizer = tiny_gpt2()
        model.to(device=dev, dtype=dtype)
        return LoadedModel(name, model, tokenizer, architecture_of(model), origin="built from config")
    if spec is not None:
        source = gguf_source(spec)
        entry = _cache_entry(spec, source)
        cold = not (entry / MANIFEST).exists()
        if cold:
            entry = prepare(spec)
        _check_cache(entry)
        try:
            model, tokenizer = _load_dir(entry, dtype, dev)
        except (OSError, ValueError, RuntimeError) as exc:
            raise CacheCorruptError(
                f"cached model at {entry} could not be loaded ({exc})",
                hint="delete that folder or run `stylekg models pull --force`",
            ) from exc
        loaded = LoadedModel(name, model, tokenizer, architecture_of(model), origin=str(source), cache_path=entry)
        loaded.timings["load_s"] = time.perf_counter() - started
        loaded.timings["cold"] = float(cold)
        return loaded
    path = Path(name).expanduser()
    if path.is_dir():
        model, tokenizer = _load_dir(path, dtype, dev)
        return LoadedModel(name, model, tokenizer, architecture_of(model), origin=str(path))
    if "/" in name and not path.exists():
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, local_files_only=True).to(dev).eval()
        except OSError:
            pass
        else:
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            return LoadedModel(name, model, tokenizer, architecture_of(model), origin=f"hub cache: {name}")
    raise UnknownModelError(
        f"unknown model {name!r}",
        hint=f"use one of {', '.join(sorted(REGISTRY))}, a local model directory, or a hub id already in your HF cache",
    )
