"""Activation steering (no weight update): add/subtract a style direction, or LEACE-erase it."""

from .leace import LeaceEraser, fit_leace
from .main import SteeringHParams, apply, collect_activations, style_direction

HPARAMS = SteeringHParams

__all__ = [
    "HPARAMS", "SteeringHParams", "apply", "collect_activations", "style_direction", "LeaceEraser", "fit_leace",
]
