"""The one hook utility of stylekg: read and patch activations of named modules.

Everything that touches activations (tracing, key statistics, editing, steering) goes through
:class:`Trace` / :class:`TraceDict`. Hooks are registered on entry and always removed on exit,
even when the forward pass raises. Modules are named by their dotted path in the HF module tree
(build names with :meth:`stylekg.lm.architectures.Architecture.site`).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import torch

from .architectures import get_module

EditFn = Callable[[Any, str], Any]


class StopForward(Exception):
    """Raised inside a hook to end a forward pass early (``stop=True``); caught by the context."""


def output_tensor(output: Any) -> torch.Tensor:
    """The hidden-state tensor of a module output (blocks may return tuples)."""
    return output[0] if isinstance(output, tuple) else output


def replace_output_tensor(output: Any, tensor: torch.Tensor) -> Any:
    """The same output structure with its hidden-state tensor replaced."""
    if isinstance(output, tuple):
        return (tensor, *output[1:])
    return tensor


def _keep(value: Any, clone: bool, detach: bool) -> Any:
    if isinstance(value, tuple):
        return tuple(_keep(v, clone, detach) for v in value)
    if not isinstance(value, torch.Tensor):
        return value
    if detach:
        value = value.detach()
    if clone:
        value = value.clone()
    return value


class Trace(contextlib.AbstractContextManager):
    """Retain and/or edit the input and output of one module during forward passes.

    ``edit_output(output, name)`` may return a replacement output; ``edit_input(x, name)`` a
    replacement for the first positional input. ``stop=True`` ends the forward pass right after
    this module (use it to collect activations without computing the layers above).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        layer: str,
        *,
        retain_output: bool = True,
        retain_input: bool = False,
        clone: bool = False,
        detach: bool = False,
        edit_output: EditFn | None = None,
        edit_input: EditFn | None = None,
        stop: bool = False,
    ) -> None:
        self.layer = layer
        self.output: Any = None
        self.input: torch.Tensor | None = None
        self._stop = stop
        module = get_module(model, layer)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

        def pre_hook(_module, args, kwargs):
            if edit_input is None or not args:
                return None
            new_first = edit_input(args[0], layer)
            return (new_first, *args[1:]), kwargs

        def hook(_module, args, output):
            if retain_input:
                first = args[0] if args else None
                self.input = _keep(first, clone, detach)
            if edit_output is not None:
                output = edit_output(output, layer)
            if retain_output:
                self.output = _keep(output, clone, detach)
            if self._stop:
                raise StopForward()
            return output

        pre_hook._stylekg_hook = True  # type: ignore[attr-defined]
        hook._stylekg_hook = True  # type: ignore[attr-defined]
        try:
            if edit_input is not None:
                self._handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
            self._handles.append(module.register_forward_hook(hook))
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return self._stop and exc_type is not None and issubclass(exc_type, StopForward)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


class TraceDict(OrderedDict, contextlib.AbstractContextManager):
    """:class:`Trace` over several modules at once, keyed by module name.

    With ``stop=True`` the forward pass ends after the *last listed* module that runs, so one pass
    collects every listed layer without computing anything above the highest of them.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        layers: Iterable[str],
        *,
        retain_output: bool = True,
        retain_input: bool = False,
        clone: bool = False,
        detach: bool = False,
        edit_output: EditFn | None = None,
        edit_input: EditFn | None = None,
        stop: bool = False,
    ) -> None:
        super().__init__()
        names = list(dict.fromkeys(layers))
        self._stop = stop
        self._stack = contextlib.ExitStack()
        try:
            for index, name in enumerate(names):
                self[name] = self._stack.enter_context(
                    Trace(
                        model,
                        name,
                        retain_output=retain_output,
                        retain_input=retain_input,
                        clone=clone,
                        detach=detach,
                        edit_output=edit_output,
                        edit_input=edit_input,
                        stop=stop and index == len(names) - 1,
                    )
                )
        except BaseException:
            self._stack.close()
            raise

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._stack.close()
        return self._stop and exc_type is not None and issubclass(exc_type, StopForward)

    def close(self) -> None:
        self._stack.close()


def hook_count(model: torch.nn.Module) -> int:
    """Number of stylekg forward (pre-)hooks alive anywhere in the model (transformers' own are ignored)."""
    return sum(
        getattr(h, "_stylekg_hook", False)
        for m in model.modules()
        for h in (*m._forward_hooks.values(), *m._forward_pre_hooks.values())
    )


def has_forward_hooks(model: torch.nn.Module) -> bool:
    """True while any module of ``model`` has a forward (pre-)hook: its outputs then depend on more than its
    weights (activation steering), so caches keyed by the weights must not be read or written."""
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
