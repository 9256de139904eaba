"""MEMIT: mass-editing memory in a transformer (Meng et al. 2023)."""

from ..registry import MethodSpec, Need
from .hparams import MEMITHparams
from .main import apply, memit_update, residual_to_mlp_out, spread_edits

METHOD = MethodSpec("memit", MEMITHparams, apply, needs=frozenset({Need.STATISTICS, Need.PRESERVED}))

__all__ = ["METHOD", "MEMITHparams", "apply", "memit_update", "residual_to_mlp_out", "spread_edits"]
