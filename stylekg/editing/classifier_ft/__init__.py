"""Classifier-guided erasure of a semantic style (one ``apply``, plus ``sweep`` over lambda)."""

from ..registry import MethodSpec, Need
from .hparams import ClassifierFTHparams
from .main import SweepPoint, apply, sweep
from .probe import StyleProbe, fit_probe

METHOD = MethodSpec("classifier-ft", ClassifierFTHparams, apply, needs=frozenset({Need.MATERIAL, Need.PROMPTS}))

__all__ = ["METHOD", "ClassifierFTHparams", "SweepPoint", "StyleProbe", "apply", "fit_probe", "sweep"]
