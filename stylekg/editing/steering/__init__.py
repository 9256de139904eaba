"""Activation steering (no weight update): add/subtract a style direction, or LEACE-erase it."""

from .hparams import SteeringHparams
from .leace import LeaceEraser, fit_leace
from .main import apply, collect_activations, style_direction

HPARAMS = SteeringHparams
EDITS_WEIGHTS = False  # the result is a forward hook on the model, not a weight delta

__all__ = [
    "HPARAMS", "SteeringHparams", "apply", "collect_activations", "style_direction", "LeaceEraser", "fit_leace",
]
