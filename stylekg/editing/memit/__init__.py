"""MEMIT: mass-editing memory in a transformer (Meng et al. 2023)."""

from .hparams import MEMITHparams
from .memit import apply, memit_update, residual_to_mlp_out, spread_edits

HPARAMS = MEMITHparams

__all__ = ["HPARAMS", "MEMITHparams", "apply", "memit_update", "residual_to_mlp_out", "spread_edits"]
