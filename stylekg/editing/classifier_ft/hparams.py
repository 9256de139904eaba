"""Classifier-guided FT hyper-parameters (one TOML file per model under stylekg/configs/classifier-ft/)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import EditError
from ..penalty_ft.hparams import check_lambda


@dataclass(frozen=True)
class ClassifierFTHparams:
    layers: tuple[int, ...] = (0,)
    site: str = "mlp_out"
    probe_layer: int = 1  # residual stream (after this block) the classifier reads
    steps: int = 30
    lr: float = 5e-4
    lam: float = 1.0  # lambda: weight of the style loss against the neutral-text CE
    c: float = 1.0  # inverse L2 strength of the logistic probe
    generate_tokens: int = 8  # greedy continuation scored with each persona prompt (0 = prompt only)
    norm_constraint: float = math.inf
    max_len: int = 96

    def __post_init__(self) -> None:
        check_lambda(self.lam)
        if self.generate_tokens < 0:
            raise EditError(f"generate_tokens must be >= 0, got {self.generate_tokens}")
