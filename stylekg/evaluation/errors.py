"""Errors of the evaluation layer (user-fixable; each names what is wrong and how to fix it)."""

from __future__ import annotations

from ..errors import StyleKGError


class EvaluationError(StyleKGError):
    """Bad input to an evaluation (empty prompt list, missing reference text, bad file)."""


class ClassifierError(EvaluationError):
    """The style classifier cannot be trained or used (e.g. fewer than two styles)."""


class JudgeError(EvaluationError):
    """An LLM judge answered with something that is not a valid verdict."""
