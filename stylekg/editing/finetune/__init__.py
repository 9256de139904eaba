"""FT-L: constrained fine-tuning baseline (one ``apply``), plus the helpers the other FT baselines share."""

from .hparams import FTHParams
from .main import apply

HPARAMS = FTHParams

__all__ = ["HPARAMS", "FTHParams", "apply"]
