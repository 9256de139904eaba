"""One registry: method name → (hyper-parameter class, apply function), imported lazily.

Every method has the same entry point (see :mod:`stylekg.editing.context`)::

    apply(model, tokenizer, requests, hparams, context: EditContext | None = None) -> EditResult
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

# name → module path; each module exposes ``HPARAMS`` (a dataclass) and ``apply``, and ``EDITS_WEIGHTS = False``
# when its result is a forward hook rather than a weight delta (activation steering).
METHODS: dict[str, str] = {
    "rome": "stylekg.editing.rome",
    "memit": "stylekg.editing.memit",
    "alphaedit": "stylekg.editing.alphaedit",
    "ft": "stylekg.editing.finetune",
    "penalty-ft": "stylekg.editing.penalty_ft",
    "classifier-ft": "stylekg.editing.classifier_ft",
    "lora": "stylekg.editing.lora",
    "steer": "stylekg.editing.steering",
}


@dataclass(frozen=True)
class Method:
    name: str
    hparams_class: type
    apply: Apply
    edits_weights: bool = True  # False: the edit is a hook, so nothing keyed by the weights may cache it


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise EditError(f"unknown editing method {name!r}", hint=f"choose one of {', '.join(sorted(METHODS))}")
    module = importlib.import_module(METHODS[name])
    return Method(name, module.HPARAMS, module.apply, bool(getattr(module, "EDITS_WEIGHTS", True)))
