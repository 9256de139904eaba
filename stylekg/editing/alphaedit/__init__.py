"""AlphaEdit: null-space constrained knowledge editing (Fang et al., ICLR 2025)."""

from .alphaedit import KeyCache, apply
from .hparams import AlphaEditHparams
from .projection import NullSpace, alphaedit_update, null_space

HPARAMS = AlphaEditHparams

__all__ = ["HPARAMS", "AlphaEditHparams", "KeyCache", "NullSpace", "alphaedit_update", "apply", "null_space"]
