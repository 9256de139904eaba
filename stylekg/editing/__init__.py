"""Editing methods: one package each, one ``apply(model, tokenizer, requests, hparams, context) -> EditResult``."""

from .context import EditContext
from .registry import METHODS, Method, get_method
from .result import EditResult

__all__ = ["METHODS", "EditContext", "EditResult", "Method", "get_method"]
