"""FT-L: constrained fine-tuning baseline (one ``apply``), plus the helpers the other FT baselines share."""

from ..registry import MethodSpec
from .hparams import FTHparams
from .main import apply

METHOD = MethodSpec("ft", FTHparams, apply, needs=frozenset())

__all__ = ["METHOD", "FTHparams", "apply"]
