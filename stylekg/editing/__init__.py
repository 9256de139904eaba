"""Editing methods: one package each, declared as a ``MethodSpec``, one ``apply(model, tokenizer, requests, hparams,
context) -> EditResult`` (:mod:`stylekg.editing.registry`; how to add one: docs/architecture.md)."""

from .context import EditContext
from .registry import METHODS, Method, MethodSpec, Need, get_method
from .result import EditResult

__all__ = ["METHODS", "EditContext", "EditResult", "Method", "MethodSpec", "Need", "get_method"]
