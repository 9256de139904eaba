"""Hyper-parameters: frozen dataclasses loaded from TOML, rejecting unknown keys and bad types.

One file per (method, model) under ``configs/`` (e.g. ``configs/rome/smollm2-135m.toml``).
Method settings only: devices, paths and caches belong to the run config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from ..errors import EditError

H = TypeVar("H")

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"


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


def from_dict(cls: type[H], data: dict[str, Any], source: str = "") -> H:
    """Build a hyper-parameter dataclass, naming any unknown key or wrongly typed value."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    where = f" in {source}" if source else ""
    if unknown:
        raise EditError(f"unknown {cls.__name__} key(s){where}: {', '.join(unknown)}", hint=f"known: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {k: _coerce(cls.__name__, k, hints[k], v) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise EditError(f"{cls.__name__}{where}: {exc}") from None


def load_hparams(cls: type[H], path: str | Path) -> H:
    path = Path(path)
    if not path.exists():
        raise EditError(f"hyper-parameter file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise EditError(f"{path} is not valid TOML: {exc}") from None
    return from_dict(cls, data, str(path))


def default_hparams_path(method: str, model: str) -> Path:
    return CONFIG_ROOT / method / f"{model}.toml"


def hparams_hash(hparams: Any) -> str:
    """Stable short hash of a hyper-parameter dataclass (for run records and cache keys)."""
    payload = json.dumps(dataclasses.asdict(hparams), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
