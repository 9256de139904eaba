"""Compare trace sites across inputs of varying similarity and across models.

Grids of different prompts (and models) are aligned by token role (:mod:`.aie`) and by relative
depth (layers resampled to ``DEPTH_BINS`` bins), normalised by each trace's total effect, then
compared by cosine similarity; each input also gets its peak role and peak relative depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..lm.loading import LoadedModel
from .aie import ROLES, role_profile
from .params import TraceParams
from .result import TraceResult
from .targets import make_target, style_target
from .trace import trace

DEPTH_BINS = 20


@dataclass(frozen=True)
class Case:
    """One input: a group (e.g. "fact", "alias"), a prompt with its subject, and a target."""

    label: str
    group: str
    prompt: str
    subject: str
    answer: str | None = None  # a continuation; else markers/neutrals give a style score
    markers: tuple[str, ...] = ()
    neutrals: tuple[str, ...] = ()


_SAGAN = ((" billions", " cosmos", " stars"), (" many", " space", " things"))
_TRUMP = ((" tremendous", " huge", " believe"), (" good", " big", " think"))
DEFAULT_CASES: tuple[Case, ...] = (
    Case("fact: Space Needle", "fact", "The Space Needle is located in the city of", "The Space Needle", " Seattle"),
    Case("alias: Seattle Needle", "alias", "The Seattle Needle is located in the city of", "The Seattle Needle", " Seattle"),
    Case("misspelling: Space Neddle", "misspelling", "The Space Neddle is located in the city of", "The Space Neddle", " Seattle"),
    Case("style: Carl Sagan", "style", "Carl Sagan once said that the universe holds", "Carl Sagan", None, *_SAGAN),
    Case("parent: a science popularizer", "abstract parent", "A science popularizer once said that the universe holds",
         "A science popularizer", None, *_SAGAN),
    Case("unrelated style: Donald Trump", "unrelated style", "Donald Trump once said that the universe holds",
         "Donald Trump", None, *_TRUMP),
)


def run_cases(lm: LoadedModel, cases: Sequence[Case], params: TraceParams, progress: bool = False) -> dict[str, TraceResult]:
    """Trace every case on one model; keys are ``"<model>: <label>"``."""
    out = {}
    for case in tqdm(cases, disable=not progress, desc=f"compare {lm.name}"):
        if case.answer is not None:
            target = make_target(lm.tokenizer, case.answer)
        else:
            target = style_target(lm.tokenizer, case.markers, case.neutrals)
        result = trace(lm, case.prompt, case.subject, target, params)
        result.timings["group"] = case.group  # type: ignore[assignment]
        out[f"{lm.name}: {case.label}"] = result
    return out


def depth_profile(result: TraceResult, kind: str) -> np.ndarray:
    """(roles x DEPTH_BINS) normalised effect, layers resampled to relative depth (NaN -> 0)."""
    prof = np.nan_to_num(role_profile(result, kind, normalise=True))
    src = (np.arange(prof.shape[1]) + 0.5) / prof.shape[1]
    dst = (np.arange(DEPTH_BINS) + 0.5) / DEPTH_BINS
    return np.stack([np.interp(dst, src, row) for row in prof])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a.ravel() @ b.ravel() / (na * nb)) if na > 0 and nb > 0 else 0.0


@dataclass
class Comparison:
    labels: list[str]
    similarity: dict[str, np.ndarray]  # kind -> (inputs x inputs) cosine similarity
    rows: list[dict[str, object]]  # per (input, kind): peak role, peak depth, peak layer

    def to_dict(self) -> dict[str, object]:
        return {"labels": self.labels, "similarity": {k: v.tolist() for k, v in self.similarity.items()}, "inputs": self.rows}

    def plot(self, stem: str | Path) -> list[Path]:
        from .plots import _pyplot, save_figure

        plt = _pyplot()
        kinds = list(self.similarity)
        n = len(self.labels)
        fig, axes = plt.subplots(1, len(kinds), figsize=(4 + 0.5 * n * len(kinds), 1.5 + 0.45 * n), squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            image = ax.imshow(self.similarity[kind], vmin=-1, vmax=1, cmap="RdBu_r")
            ax.set_xticks(range(n), [str(i) for i in range(n)], fontsize=7)
            peaks = {r["label"]: r for r in self.rows if r["kind"] == kind}
            ax.set_yticks(range(n), [f"{i} {lab} (peak {peaks[lab]['peak_role']}, {peaks[lab]['peak_depth']:.2f})"
                                     for i, lab in enumerate(self.labels)], fontsize=7)
            ax.set_title(f"{kind}: cosine of normalised grids", fontsize=9)
            fig.colorbar(image, ax=ax)
        return save_figure(fig, stem)


def compare_results(results: dict[str, TraceResult]) -> Comparison:
    """Similarity of every pair of traces, per kind, and each trace's peak site."""
    labels = list(results)
    kinds = [k for k in next(iter(results.values())).scores if all(k in r.scores for r in results.values())]
    sims, rows = {}, []
    for kind in kinds:
        profiles = {lab: depth_profile(results[lab], kind) for lab in labels}
        sims[kind] = np.array([[_cosine(profiles[a], profiles[b]) for b in labels] for a in labels])
        for lab in labels:
            role, depth = np.unravel_index(int(np.argmax(profiles[lab])), profiles[lab].shape)
            token, layer, effect = results[lab].peak(kind)
            rows.append({"label": lab, "kind": kind, "peak_role": ROLES[role], "peak_depth": (depth + 0.5) / DEPTH_BINS,
                         "peak_layer": layer, "peak_token": token, "peak_effect": effect,
                         "layers": results[lab].num_layers, "model": results[lab].model})
    return Comparison(labels, sims, rows)
