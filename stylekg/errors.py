"""User-facing errors: one base, one subclass per concern. The CLI prints ``str(error)`` as one line, exit 2.

Every part above the model layer raises a subclass of :class:`StyleKGError`. The model layer (``stylekg.lm``)
is a standalone ground floor that imports nothing else of stylekg, so it keeps its own base,
:class:`stylekg.lm.errors.ModelError`, with the same ``hint`` contract; :data:`USER_ERRORS` is never built here
(that would import ``lm``): the CLI names both bases.
"""

from __future__ import annotations

import re

_SECRETS = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@"), r"\1<redacted>@"),  # scheme://user:pass@host
    (re.compile(r"(?i)\b(basic|bearer|token|digest)(\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1\2<redacted>"),  # auth headers
    (re.compile(r"(?i)([?&;][^\s=&#]*(?:key|token|secret|password|passwd|pwd|auth|sig)[^\s=&#]*=)[^\s&#'\"]*"),
     r"\1<redacted>"),  # URL parameters that carry credentials
    (re.compile(r"\b(sk-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]+"), r"\1<redacted>"),  # OpenAI-style keys
)


def redact(text: str) -> str:
    """``text`` with credentials replaced by ``<redacted>``: the user info of URLs, ``Basic``/``Bearer`` values,
    URL parameters named like a key, token, secret or password, and ``sk-…`` keys. Every error line the CLI
    prints passes through it (an HTTP error can quote the request URL or its ``Authorization`` header)."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


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


class EvaluationError(StyleKGError):
    """Bad input to an evaluation (empty prompt list, missing reference text, bad file)."""


class ClassifierError(EvaluationError):
    """The style classifier cannot be trained or used (e.g. fewer than two styles)."""


class JudgeError(EvaluationError):
    """An LLM judge answered with something that is not a valid verdict."""


class MaterialError(GraphError, EvaluationError, EditError):
    """A style's material (markers, neutral forms, names) is missing or malformed: a graph problem that
    surfaces wherever the material is used (building requests, editing, evaluating)."""


class ConfigError(StyleKGError):
    """A run config file or flag combination is invalid."""


class RunError(StyleKGError):
    """The pipeline cannot go on (nothing was written to the store)."""
