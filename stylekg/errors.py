"""User-facing errors. The CLI prints ``str(error)`` as one line and exits non-zero."""

from __future__ import annotations

from .lm.errors import ModelError


class StyleKGError(Exception):
    """Base of every error a user can fix; ``hint`` says how."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class GraphError(StyleKGError):
    """An invalid style graph, node, edge or file; the graph is left unchanged."""


class StoreError(StyleKGError):
    """A graph store could not be opened, written or queried; nothing was half-written."""


class LLMError(StyleKGError):
    """An LLM endpoint failed or kept answering with invalid output."""


class TraceError(StyleKGError):
    """Bad input to causal tracing (subject not in prompt, empty target, prompt too long)."""


class EditError(StyleKGError):
    """Bad edit request or failed optimisation; the model is left unchanged."""


USER_ERRORS: tuple[type[Exception], ...] = (StyleKGError, ModelError)
