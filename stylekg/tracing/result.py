"""Typed result of a trace: score grids per kind, tokens, subject span, clean/corrupted scores."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import TraceError
from .params import TraceParams
from ..paths import atomic_write_text


@dataclass
class TraceResult:
    """Scores of every restored site: ``scores[kind][token, layer]`` over the prompt tokens.

    ``high`` is the clean score, ``low`` the corrupted one; the indirect effect of a site is
    ``scores - low`` (Meng et al. §2.1). Tokens not traced hold NaN.
    """

    model: str
    prompt: str
    subject: str
    target: dict[str, Any]
    tokens: list[str]
    subject_span: tuple[int, int]
    scores: dict[str, np.ndarray]
    high: float
    low: float
    params: TraceParams
    noise_std: float
    algorithm: str = "fast"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return int(next(iter(self.scores.values())).shape[1])

    def effect(self, kind: str) -> np.ndarray:
        """Indirect effect grid: restored score minus corrupted score."""
        return self.scores[kind] - self.low

    def normalised(self, kind: str) -> np.ndarray:
        """Effect as a fraction of the total effect ``high - low`` (1 = fully restored)."""
        gap = self.high - self.low
        return self.effect(kind) / gap if abs(gap) > 1e-12 else np.zeros_like(self.scores[kind])

    def peak(self, kind: str) -> tuple[int, int, float]:
        """(token, layer, effect) of the strongest site of ``kind``."""
        eff = np.nan_to_num(self.effect(kind), nan=-np.inf)
        token, layer = np.unravel_index(int(np.argmax(eff)), eff.shape)
        return int(token), int(layer), float(eff[token, layer])

    @property
    def last_subject_token(self) -> int:
        return self.subject_span[1] - 1

    # ---- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": self.prompt,
            "subject": self.subject,
            "target": self.target,
            "tokens": self.tokens,
            "subject_span": list(self.subject_span),
            "scores": {k: np.where(np.isnan(v), None, v).tolist() for k, v in self.scores.items()},
            "high": self.high,
            "low": self.low,
            "params": self.params.to_dict(),
            "noise_std": self.noise_std,
            "algorithm": self.algorithm,
            "timings": self.timings,
            "version": __version__,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceResult:
        return cls(
            model=data["model"],
            prompt=data["prompt"],
            subject=data["subject"],
            target=data["target"],
            tokens=list(data["tokens"]),
            subject_span=tuple(data["subject_span"]),  # type: ignore[arg-type]
            scores={k: np.array(v, dtype=np.float64) for k, v in data["scores"].items()},
            high=float(data["high"]),
            low=float(data["low"]),
            params=TraceParams.from_dict(data["params"]),
            noise_std=float(data["noise_std"]),
            algorithm=data.get("algorithm", "fast"),
            timings=dict(data.get("timings", {})),
        )

    def save(self, directory: str | Path, stem: str = "trace") -> Path:
        """Write ``<stem>.json`` (everything) and ``<stem>.npz`` (the grids); return the JSON path."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{stem}.json"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        np.savez(out / f"{stem}.npz", **self.scores)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TraceResult:
        path = Path(path)
        if not path.exists():
            raise TraceError(f"trace file {path} does not exist")
        result = cls.from_dict(json.loads(path.read_text()))
        grids = path.with_suffix(".npz")
        if grids.exists():  # exact float64 grids (JSON keeps them too, as text)
            with np.load(grids) as data:
                result.scores = {k: data[k] for k in data.files}
        return result

    # ---- graph -----------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Per-kind peak layer/token/effect, and the MLP effect profile at the last subject token."""
        out: dict[str, float] = {"high": self.high, "low": self.low, "total_effect": self.high - self.low}
        for kind in self.scores:
            token, layer, eff = self.peak(kind)
            out[f"{kind}_peak_token"] = float(token)
            out[f"{kind}_peak_layer"] = float(layer)
            out[f"{kind}_peak_effect"] = eff
            row = self.effect(kind)[self.last_subject_token]
            if not np.all(np.isnan(row)):
                out[f"{kind}_last_subject_peak_layer"] = float(np.nanargmax(row))
                out[f"{kind}_last_subject_peak_effect"] = float(np.nanmax(row))
        return out
