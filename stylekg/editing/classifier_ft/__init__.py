"""Classifier-guided erasure of a semantic style (one ``apply``, plus ``sweep`` over lambda)."""

from .hparams import ClassifierFTHparams
from .main import SweepPoint, apply, sweep
from .probe import StyleProbe, fit_probe

HPARAMS = ClassifierFTHparams

__all__ = ["HPARAMS", "ClassifierFTHparams", "SweepPoint", "StyleProbe", "apply", "fit_probe", "sweep"]
