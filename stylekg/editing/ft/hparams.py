"""Hyper-parameters of FT-L (constrained fine-tuning of chosen layers; TOML files under stylekg/configs/ft/)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import EditError


@dataclass(frozen=True)
class FTHparams:
    """FT-L as in the ROME paper's baseline: Adam on one projection per layer, L-inf bounded.

    ``norm_constraint`` is the bound on ``|W - W_0|`` per entry (``inf`` in TOML = unconstrained FT).
    """

    layers: tuple[int, ...] = (0,)
    site: str = "mlp_out"  # which projection's weight is trained: mlp_out | mlp_in | attn_out
    steps: int = 25
    lr: float = 5e-4
    norm_constraint: float = 5e-4
    weight_decay: float = 0.0
    early_stop_loss: float = 1e-2  # stop once the mean target NLL falls below this
    max_len: int = 128

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise EditError(f"FT steps must be >= 1, got {self.steps}")
        if self.lr <= 0:
            raise EditError(f"FT lr must be > 0, got {self.lr}")
        if not (self.norm_constraint > 0 or math.isinf(self.norm_constraint)):
            raise EditError(f"FT norm_constraint must be > 0 (inf = unconstrained), got {self.norm_constraint}")
