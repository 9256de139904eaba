"""Average indirect effect over many prompts, aligned by token role (Meng et al. Figure 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import warnings

import numpy as np

from .result import TraceResult

ROLES: tuple[str, ...] = (
    "first subject token",
    "middle subject tokens",
    "last subject token",
    "first subsequent token",
    "further tokens",
    "last token",
)


def role_rows(span: tuple[int, int], n_tokens: int) -> dict[str, list[int]]:
    """Token indices of each role (a one-token subject is both first and last subject token)."""
    a, b = span
    last = n_tokens - 1
    return {
        "first subject token": [a],
        "middle subject tokens": list(range(a + 1, b - 1)),
        "last subject token": [b - 1],
        "first subsequent token": [b] if b < last else [],
        "further tokens": list(range(b + 1, last)),
        "last token": [last],
    }


def role_profile(result: TraceResult, kind: str, normalise: bool = False) -> np.ndarray:
    """(roles x layers) effect of one trace: the mean over each role's tokens (NaN if none)."""
    grid = result.normalised(kind) if normalise else result.effect(kind)
    out = np.full((len(ROLES), grid.shape[1]), np.nan)
    for i, rows in enumerate(role_rows(result.subject_span, len(result.tokens)).values()):
        values = grid[rows] if rows else np.empty((0, grid.shape[1]))
        if len(values):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[i] = np.nanmean(values, axis=0)
    return out


@dataclass
class AIE:
    """Average indirect effect per kind: ``effects[kind]`` is (roles x layers); ``counts`` per role."""

    effects: dict[str, np.ndarray]
    counts: list[int]
    n_prompts: int
    mean_high: float
    mean_low: float

    def table(self, kind: str) -> list[dict[str, object]]:
        """Rows ``{"role", "n", "peak_layer", "peak_effect", "effects"}`` for printing or JSON."""
        rows = []
        for role, count, values in zip(ROLES, self.counts, self.effects[kind]):
            valid = not np.all(np.isnan(values))
            rows.append({
                "role": role,
                "n": count,
                "peak_layer": int(np.nanargmax(values)) if valid else None,
                "peak_effect": float(np.nanmax(values)) if valid else None,
                "effects": [None if np.isnan(v) else float(v) for v in values],
            })
        return rows

    def to_dict(self) -> dict[str, object]:
        return {"n_prompts": self.n_prompts, "mean_high": self.mean_high, "mean_low": self.mean_low,
                "roles": list(ROLES), "tables": {k: self.table(k) for k in self.effects}}

    def plot(self, stem: str | Path) -> list[Path]:
        from .plots import plot_role_grids

        title = f"average indirect effect over {self.n_prompts} prompts (high {self.mean_high:.3g}, low {self.mean_low:.3g})"
        return plot_role_grids(self.effects, ROLES, stem, title, self.counts)


def average_indirect_effect(results: Sequence[TraceResult], normalise: bool = False) -> AIE:
    """Mean effect over prompts for each (role, layer); prompts lacking a role do not count for it."""
    if not results:
        raise ValueError("no traces to average")
    kinds = list(results[0].scores)
    effects = {}
    counts = [0] * len(ROLES)
    for kind in kinds:
        stack = np.stack([role_profile(r, kind, normalise) for r in results])  # (P, roles, layers)
        with warnings.catch_warnings():  # a role no prompt has stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            effects[kind] = np.nanmean(stack, axis=0)
        counts = [int(np.sum(~np.all(np.isnan(stack[:, i]), axis=1))) for i in range(len(ROLES))]
    return AIE(effects, counts, len(results), float(np.mean([r.high for r in results])), float(np.mean([r.low for r in results])))
