"""Classifier-guided erasure of a semantic style (one ``apply``, plus ``sweep`` over lambda)."""

from .main import ClassifierFTHParams, SweepPoint, apply, sweep
from .probe import StyleProbe, fit_probe

HPARAMS = ClassifierFTHParams

__all__ = ["HPARAMS", "ClassifierFTHParams", "SweepPoint", "StyleProbe", "apply", "fit_probe", "sweep"]
