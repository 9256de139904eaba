"""Heatmaps like Meng et al.'s Figure 1: one panel per kind, tokens down, layers across.

Visualisation reads results only; it never touches a model. Every figure is written as PNG and SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .result import TraceResult
from ..paths import atomic_path

CMAPS = {"residual": "Purples", "mlp": "Greens", "attn": "Reds"}
TITLES = {"residual": "single restored layer", "mlp": "restored MLP", "attn": "restored attention"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg``; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path, options in zip(paths, ({"dpi": 150}, {})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, bbox_inches="tight", format=path.suffix.lstrip("."), **options)
    _pyplot().close(fig)
    return paths


def token_labels(result: TraceResult) -> list[str]:
    """Token strings, subject tokens marked with a trailing ``*`` as in the paper."""
    a, b = result.subject_span
    return [repr(tok)[1:-1] + ("*" if a <= i < b else "") for i, tok in enumerate(result.tokens)]


def plot_trace(result: TraceResult, stem: str | Path, kinds: Sequence[str] | None = None) -> list[Path]:
    """One heatmap panel per kind of the restored scores; colour scale from the corrupted score up."""
    plt = _pyplot()
    kinds = list(kinds or result.scores)
    labels = token_labels(result)
    height = max(2.5, 0.28 * len(labels) + 1.2)
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), height), squeeze=False)
    target = result.target.get("text") or result.target.get("type", "")
    for ax, kind in zip(axes[0], kinds):
        grid = np.ma.masked_invalid(result.scores[kind])
        image = ax.pcolormesh(grid, cmap=CMAPS.get(kind, "Blues"), vmin=result.low)
        ax.invert_yaxis()
        ax.set_yticks(np.arange(len(labels)) + 0.5, labels, fontsize=8)
        step = max(1, result.num_layers // 8)
        ticks = np.arange(0, result.num_layers, step)
        ax.set_xticks(ticks + 0.5, [str(t) for t in ticks], fontsize=8)
        ax.set_xlabel(f"layer ({TITLES.get(kind, kind)})")
        ax.set_title(f"{kind}: score of {target!r}", fontsize=9)
        cbar = fig.colorbar(image, ax=ax)
        cbar.ax.set_title(f"low {result.low:.3g}\nhigh {result.high:.3g}", fontsize=7)
    fig.suptitle(f"{result.model}: causal trace of {result.prompt!r}", fontsize=10)
    return save_figure(fig, stem)


def plot_role_grids(
    grids: dict[str, np.ndarray], roles: Sequence[str], stem: str | Path, title: str, counts: Sequence[int] | None = None
) -> list[Path]:
    """Role x layer heatmaps (e.g. average indirect effect), one panel per kind."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 3.2), squeeze=False)
    labels = [f"{r} (n={c})" if counts is not None else r for r, c in zip(roles, counts or [0] * len(roles))]
    for ax, (kind, grid) in zip(axes[0], grids.items()):
        image = ax.pcolormesh(np.ma.masked_invalid(grid), cmap=CMAPS.get(kind, "Blues"))
        ax.invert_yaxis()
        ax.set_yticks(np.arange(len(roles)) + 0.5, labels, fontsize=8)
        ax.set_xlabel(f"layer ({TITLES.get(kind, kind)})")
        ax.set_title(kind, fontsize=9)
        fig.colorbar(image, ax=ax)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, stem)
