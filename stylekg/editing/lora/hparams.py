"""LoRA hyper-parameters (one TOML file per model under stylekg/configs/lora/)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import EditError


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

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise EditError(f"LoRA rank must be >= 1, got {self.rank}")
        if self.steps < 1 or self.lr <= 0:
            raise EditError(f"LoRA needs steps >= 1 and lr > 0, got steps={self.steps}, lr={self.lr}")
