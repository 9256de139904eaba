"""Steering hyper-parameters (one TOML file per model under stylekg/configs/steer/)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import EditError

MODES = ("add", "erase")


@dataclass(frozen=True)
class SteeringHparams:
    layer: int = 0  # residual stream after this block
    strength: float = 1.0  # add mode: multiple of the contrastive direction (negative = away from style)
    mode: str = "add"  # add | erase
    skip_first_token: bool = True  # leave out position 0 (an attention sink with outlier norm) when fitting
    max_len: int = 64

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise EditError(f"unknown steering mode {self.mode!r}", hint=f"choose one of {', '.join(MODES)}")
