"""Hyper-parameter files: one TOML per (method, model), shipped in the package as ``stylekg/configs/``.

:func:`load_method` is the one way to get a method and its hyper-parameters: the shipped file
``stylekg/configs/<method>/<model>.toml`` or an explicit one, read into the method's frozen dataclass.
Every failure is loud: a model without a shipped file, a path that does not exist, invalid TOML, an
unknown key or a wrongly typed value raises :class:`~stylekg.errors.EditError` naming the file.
Method settings only: devices, paths and caches belong to the run config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from ..errors import EditError
from .registry import CONFIG_ROOT, MethodSpec, config_dir, get_method

log = logging.getLogger(__name__)

def _coerce(cls_name: str, key: str, annotation: Any, value: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(cls_name, key, inner[0], value)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise EditError(f"{cls_name}.{key} must be a list, got {value!r}")
        item = args[0] if args else Any
        out = [_coerce(cls_name, key, item, v) for v in value]
        return tuple(out) if origin is tuple else out
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EditError(f"{cls_name}.{key} must be a number, got {value!r}", hint="write 5e-1 without quotes")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EditError(f"{cls_name}.{key} must be an integer, got {value!r}")
        return value
    if annotation is bool and not isinstance(value, bool):
        raise EditError(f"{cls_name}.{key} must be true or false, got {value!r}")
    if annotation is str and not isinstance(value, str):
        raise EditError(f"{cls_name}.{key} must be a string, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], source: str) -> Any:
    """The hyper-parameter dataclass from ``data``, naming any unknown key or wrongly typed value."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise EditError(f"unknown {cls.__name__} key(s) in {source}: {', '.join(unknown)}",
                        hint=f"known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    values = {k: _coerce(cls.__name__, k, hints[k], v) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise EditError(f"{cls.__name__} in {source}: {exc}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise EditError(f"{path} is not valid TOML: {exc}", hint="fix the file (see stylekg/configs/ for examples)") from None


def _shipped_path(method: str, model: str) -> Path:
    path = config_dir(method) / f"{Path(model).name}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise EditError(
            f"no shipped hyper-parameters for {method} on {model!r}: {path} does not exist",
            hint=f"pass --hparams FILE.toml (shipped for {method}: {', '.join(shipped) or 'none'}; copy one as a start)",
        )
    return path


def load_method(method: str, model: str, path: str | Path | None = None, **overrides: Any) -> tuple[MethodSpec, Any]:
    """The method's declared spec and its hyper-parameters for ``model``.

    ``path`` (a TOML file) replaces the shipped ``stylekg/configs/<method>/<model>.toml``; ``overrides``
    replace single settings (``None`` values mean "not given" and are skipped) and are checked like the
    file's keys: an unknown name or a wrongly typed value raises.
    """
    m = get_method(method)
    if path is None:
        path = _shipped_path(method, model)
    else:
        path = Path(path)
        if not path.is_file():
            raise EditError(f"hyper-parameter file {path} does not exist",
                            hint="give an existing TOML file, or leave --hparams out to use the shipped one")
    data = _read(path)
    hparams = _build(m.hparams_class, data, str(path))
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        hparams = _build(m.hparams_class, {**data, **given}, f"{path} with overrides {sorted(given)}")
    log.info("%s hyper-parameters for %s from %s", method, model, path)
    return m, hparams


def hparams_file(ref: str) -> Path:
    """A hyper-parameter file named by a run config: a TOML path, or a shipped config as ``<method>/<name>``
    (e.g. ``penalty-ft/smollm2-135m-voice`` for ``stylekg/configs/penalty-ft/smollm2-135m-voice.toml``)."""
    path = Path(ref)
    if path.is_file():
        return path
    shipped = CONFIG_ROOT / f"{ref.removesuffix('.toml')}.toml"
    if shipped.is_file():
        return shipped
    raise EditError(f"hyper-parameter file {ref!r} is neither a file nor a shipped config",
                    hint="give a TOML path or <method>/<name> of a file under stylekg/configs/")


def hparams_hash(hparams: Any) -> str:
    """Stable short hash of a hyper-parameter dataclass (for run records and cache keys)."""
    payload = json.dumps(dataclasses.asdict(hparams), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
