"""Activation steering (no weight update): add/subtract a style direction, or LEACE-erase it."""

from .hparams import SteeringHparams
from .leace import LeaceEraser, fit_leace
from .main import apply, collect_activations, style_direction

HPARAMS = SteeringHparams

__all__ = [
    "HPARAMS", "SteeringHparams", "apply", "collect_activations", "style_direction", "LeaceEraser", "fit_leace",
]
