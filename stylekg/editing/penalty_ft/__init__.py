"""Penalty fine-tuning: erase a lexical style by penalising its marker phrases (one ``apply``)."""

from .main import PenaltyFTHParams, apply, marker_probabilities, penalty_loss

HPARAMS = PenaltyFTHParams

__all__ = ["HPARAMS", "PenaltyFTHParams", "apply", "marker_probabilities", "penalty_loss"]
