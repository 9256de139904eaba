"""Penalty fine-tuning: erase a lexical style by penalising its marker phrases (one ``apply``)."""

from .hparams import PenaltyFTHparams
from .main import apply, marker_probabilities, penalty_loss

HPARAMS = PenaltyFTHparams

__all__ = ["HPARAMS", "PenaltyFTHparams", "apply", "marker_probabilities", "penalty_loss"]
