"""ROME: rank-one model editing (Meng et al. 2022)."""

from ..registry import MethodSpec, Need
from .hparams import ROMEHparams
from .main import apply, rank_one_update

METHOD = MethodSpec("rome", ROMEHparams, apply, needs=frozenset({Need.STATISTICS}))

__all__ = ["METHOD", "ROMEHparams", "apply", "rank_one_update"]
