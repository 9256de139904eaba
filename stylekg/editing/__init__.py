"""Editing methods (one package each, one ``apply(model, tokenizer, requests, hparams)``)."""

from .registry import METHODS, get_method
from .result import EditResult

__all__ = ["METHODS", "get_method", "EditResult"]
