"""Activation steering (no weight update): add/subtract a style direction, or LEACE-erase it."""

from ..registry import MethodSpec, Need
from .hparams import SteeringHparams
from .leace import LeaceEraser, fit_leace
from .main import apply, collect_activations, style_direction

METHOD = MethodSpec("steer", SteeringHparams, apply, needs=frozenset({Need.MATERIAL}), edits_weights=False)

__all__ = [
    "METHOD", "SteeringHparams", "apply", "collect_activations", "style_direction", "LeaceEraser", "fit_leace",
]
