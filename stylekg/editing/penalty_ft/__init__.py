"""Penalty fine-tuning: erase a lexical style by penalising its marker phrases (one ``apply``)."""

from ..registry import MethodSpec, Need
from .hparams import PenaltyFTHparams
from .main import apply, marker_probabilities, penalty_loss

METHOD = MethodSpec("penalty-ft", PenaltyFTHparams, apply, needs=frozenset({Need.MATERIAL, Need.PROMPTS}))

__all__ = ["METHOD", "PenaltyFTHparams", "apply", "marker_probabilities", "penalty_loss"]
