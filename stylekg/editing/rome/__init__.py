"""ROME: rank-one model editing (Meng et al. 2022)."""

from .hparams import ROMEHparams
from .rome import apply, rank_one_update

HPARAMS = ROMEHparams

__all__ = ["HPARAMS", "ROMEHparams", "apply", "rank_one_update"]
