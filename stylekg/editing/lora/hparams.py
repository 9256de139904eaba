"""LoRA hyper-parameters (one TOML file per model under stylekg/configs/lora/)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import EditError
from ..common.retain import check_retain_weight


@dataclass(frozen=True)
class LoRAHparams:
    layers: tuple[int, ...] = (0,)
    sites: tuple[str, ...] = ("mlp_out",)  # projections to adapt (mlp_out | mlp_in | attn_out)
    rank: int = 4
    alpha: float = 8.0
    steps: int = 30
    lr: float = 1e-3
    early_stop_loss: float = 1e-2
    seed: int = 0  # initialisation of A (drawn without touching the global RNG)
    max_len: int = 128
    retain_weight: float = 0.0  # weight of the KL to the unedited model on context.preserved (0 = off: the plain method)
    retain_rows: int = 8  # preserved items scored per step, drawn at random with ``seed`` (0 = all)

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise EditError(f"LoRA rank must be >= 1, got {self.rank}")
        if self.steps < 1 or self.lr <= 0:
            raise EditError(f"LoRA needs steps >= 1 and lr > 0, got steps={self.steps}, lr={self.lr}")
        check_retain_weight(self.retain_weight)
        if self.retain_rows < 0:
            raise EditError(f"retain_rows must be >= 0 (0 = all), got {self.retain_rows}")
