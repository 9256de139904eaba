"""Penalty fine-tuning hyper-parameters (one TOML file per model under stylekg/configs/penalty-ft/)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import EditError
from ..common.retain import check_retain_weight

PENALTIES = ("prob", "unlikelihood", "log-hinge")


def check_lambda(lam: float) -> None:
    if not lam >= 0:  # also rejects NaN
        raise EditError(f"lambda must be >= 0, got {lam}", hint="lambda weighs the style penalty; 0 turns it off")


@dataclass(frozen=True)
class PenaltyFTHparams:
    layers: tuple[int, ...] = (0,)
    site: str = "mlp_out"
    steps: int = 30
    lr: float = 5e-4
    lam: float = 1.0  # lambda: weight of the marker penalty against the neutral-text CE
    penalty: str = "log-hinge"  # prob | unlikelihood | log-hinge
    target_ratio: float = 0.01  # log-hinge: stop penalising a phrase once P < target_ratio * P_before
    norm_constraint: float = math.inf
    max_len: int = 96
    marker_tokens: int = 0  # at the model's own contexts: penalise only a marker's first N tokens (0 = the phrase)
    batch_rows: int = 0  # at the model's own contexts: rows of each loss per step, drawn at random (0 = all)
    seed: int = 0  # the draw of those rows
    retain_weight: float = 0.0  # weight of the KL to the unedited model on context.preserved (0 = off: the plain method)

    def __post_init__(self) -> None:
        check_lambda(self.lam)
        check_retain_weight(self.retain_weight)
        if self.penalty not in PENALTIES:
            raise EditError(f"unknown penalty {self.penalty!r}", hint=f"choose one of {', '.join(PENALTIES)}")
        if not 0 < self.target_ratio < 1:
            raise EditError(f"target_ratio must be in (0, 1), got {self.target_ratio}")
