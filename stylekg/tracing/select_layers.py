"""Which layers to edit for a model: the critical window of the MLP effect at the last subject token.

Meng et al. (§2.2, Figure 2) find the decisive MLP states at the last subject token in a band of
middle layers; ROME edits the peak layer, MEMIT (Meng et al., 2023, §4) spreads the edit over the
critical window. This averages the MLP trace at the last subject token over known facts and
suggests both, written as a TOML hparams fragment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..lm.loading import LoadedModel
from .inputs import prepare_input
from .noise import DEFAULT_SUBJECTS, embedding_std
from .params import TraceParams
from .targets import top1_target
from .trace import trace
from ..paths import atomic_write_text

log = logging.getLogger(__name__)

# (prompt, subject): completed with the model's own prediction, as Meng et al. trace known facts.
DEFAULT_FACTS: tuple[tuple[str, str], ...] = (
    ("The capital of France is", "France"),
    ("The Eiffel Tower is located in the city of", "The Eiffel Tower"),
    ("Albert Einstein was born in the country of", "Albert Einstein"),
    ("The Space Needle is located in the city of", "The Space Needle"),
    ("Microsoft was founded by Bill", "Microsoft"),
    ("The official language of Japan is", "Japan"),
    ("Mount Everest is located in the country of", "Mount Everest"),
    ("The Beatles were a band from the city of", "The Beatles"),
)


@dataclass
class LayerSuggestion:
    model: str
    effect: list[float]  # averaged MLP indirect effect at the last subject token, per layer
    peak_layer: int  # ROME's single layer
    window: list[int]  # MEMIT's critical window
    n_prompts: int

    def to_toml(self, method: str = "memit") -> str:
        layers = [self.peak_layer] if method == "rome" else self.window
        profile = ", ".join(f"{e:.4f}" for e in self.effect)
        return (
            f"# suggested by `stylekg trace select-layers {self.model}` from {self.n_prompts} facts:\n"
            f"# averaged MLP indirect effect at the last subject token per layer:\n# [{profile}]\n"
            f"# rome: layers = [{self.peak_layer}]   memit: layers = {self.window}\n"
            f"layers = {layers}\n"
        )

    def write(self, path: str | Path, method: str = "memit") -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.to_toml(method))
        return path


def critical_window(effect: np.ndarray, size: int) -> list[int]:
    """The ``size`` consecutive layers with the largest summed effect."""
    size = max(1, min(size, len(effect)))
    sums = np.convolve(np.nan_to_num(effect), np.ones(size), mode="valid")
    start = int(np.argmax(sums))
    return list(range(start, start + size))


def select_layers(
    lm: LoadedModel,
    prompts: Sequence[tuple[str, str]] = DEFAULT_FACTS,
    params: TraceParams = TraceParams(kinds=("mlp",)),
    *,
    size: int = 5,
    progress: bool = False,
) -> LayerSuggestion:
    """Average the MLP trace at the last subject token over ``prompts`` ((prompt, subject) pairs)."""
    params = TraceParams.from_dict({**params.to_dict(), "kinds": ["mlp"]})
    std = embedding_std(lm, (*DEFAULT_SUBJECTS, *(s for _, s in prompts)))
    rows = []
    for prompt, subject in tqdm(prompts, disable=not progress, desc="select layers"):
        target = top1_target(lm, prompt)
        last = prepare_input(lm, prompt, subject, target).subject_span[1] - 1
        result = trace(lm, prompt, subject, target, params, noise_std=std, tokens=[last])
        rows.append(result.effect("mlp")[last])
        log.info("%s -> %r: peak MLP layer %d", prompt, target.text, int(np.nanargmax(rows[-1])))
    effect = np.mean(rows, axis=0)
    return LayerSuggestion(lm.name, [float(e) for e in effect], int(np.argmax(effect)), critical_window(effect, size), len(rows))
