"""FT-L: constrained fine-tuning baseline (one ``apply``), plus the helpers the other FT baselines share."""

from .hparams import FTHparams
from .main import apply

HPARAMS = FTHparams

__all__ = ["HPARAMS", "FTHparams", "apply"]
