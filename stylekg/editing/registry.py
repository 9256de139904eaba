"""The method contract: one declared :class:`MethodSpec` per method, found by one naming rule, imported lazily.

A method id names everything (:func:`package_of`, :func:`config_dir`)::

    id "penalty-ft"  →  package stylekg.editing.penalty_ft   (dashes become underscores)
                        entry   stylekg/editing/penalty_ft/main.py      (its ``apply``)
                        hparams stylekg/editing/penalty_ft/hparams.py   (a frozen dataclass)
                        spec    stylekg/editing/penalty_ft/__init__.py  ``METHOD = MethodSpec(...)``
                        configs stylekg/configs/penalty-ft/<model>.toml

A subpackage of ``stylekg.editing`` with a ``main.py`` is a method; nothing else registers it. Every ``apply``
has the same signature (see :mod:`stylekg.editing.context`)::

    apply(model, tokenizer, requests, hparams, context: EditContext | None = None) -> EditResult

Listing the methods reads file names only; :func:`get_method` imports the one package asked for.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EditError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..requests import EditRequest
    from .context import EditContext
    from .result import EditResult

    Apply = Callable[[torch.nn.Module, Any, Sequence[EditRequest], Any, EditContext | None], EditResult]
else:
    Apply = Callable[..., Any]

PACKAGE = __name__.rpartition(".")[0]  # stylekg.editing
PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_ROOT = PACKAGE_DIR.parent / "configs"  # package data: stylekg/configs/<id>/<model>.toml
ENTRY = "main"  # every method's apply lives in <package>/main.py


class Need(enum.Enum):
    """What a method reads from :class:`~stylekg.editing.context.EditContext` besides its requests."""

    STATISTICS = "statistics"  # key second moments E[k k^T] of the unedited model (``context.stats``)
    MATERIAL = "material"  # the style's StyleMaterial: markers, neutral forms, texts (``context.material``)
    PROMPTS = "prompts"  # persona / train prompts to train on (``material.persona_prompts``, else templates)
    PRESERVED = "preserved"  # the preserved set, used when given (``context.preserved``; empty: plain method)


@dataclass(frozen=True)
class MethodSpec:
    """One editing method, declared once in its package's ``__init__.py`` as ``METHOD``."""

    name: str  # the method id (CLI, configs, run records)
    hparams_class: type  # the frozen dataclass of <package>/hparams.py, read from stylekg/configs/<id>/
    apply: Apply  # <package>/main.py's apply
    needs: frozenset[Need] = frozenset()
    edits_weights: bool = True  # False: the edit is a live forward hook, so nothing keyed by the weights may cache it
    # Sequential editing: a factory for state carried from one apply to the next on the same model
    # (``context.key_cache``; AlphaEdit's KeyCache of earlier edits' keys). None: the method keeps none.
    sequential_state: Callable[[], Any] | None = None

    @property
    def package(self) -> str:
        return package_of(self.name)

    @property
    def config_dir(self) -> Path:
        return config_dir(self.name)


Method = MethodSpec  # the former name, kept for existing imports


def package_of(name: str) -> str:
    """The naming rule: method id → its package (``penalty-ft`` → ``stylekg.editing.penalty_ft``)."""
    return f"{PACKAGE}.{name.replace('-', '_')}"


def config_dir(name: str) -> Path:
    """The naming rule: method id → its shipped hyper-parameter folder ``stylekg/configs/<id>/``."""
    return CONFIG_ROOT / name


def _discover() -> tuple[str, ...]:
    """Every method id, sorted: the subpackages of ``stylekg.editing`` holding a ``main.py`` (no import)."""
    return tuple(sorted(
        info.name.replace("_", "-") for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if info.ispkg and (PACKAGE_DIR / info.name / f"{ENTRY}.py").is_file()
    ))


METHODS: tuple[str, ...] = _discover()


def get_method(name: str) -> MethodSpec:
    """The declared spec of method ``name`` (its package is imported now, the others are not)."""
    if name not in METHODS:
        raise EditError(f"unknown editing method {name!r}", hint=f"choose one of {', '.join(METHODS)}")
    module = importlib.import_module(package_of(name))
    spec = getattr(module, "METHOD", None)
    if not isinstance(spec, MethodSpec) or spec.name != name:
        raise EditError(f"{module.__name__} does not declare METHOD = MethodSpec({name!r}, ...)",
                        hint="declare it in the package's __init__.py (docs/architecture.md, 'Adding a method')")
    return spec
