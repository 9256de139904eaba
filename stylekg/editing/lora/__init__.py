"""LoRA fine-tuning baseline through ``peft``, merged back into the base weights (one ``apply``)."""

from .hparams import LoRAHparams
from .main import apply

HPARAMS = LoRAHparams

__all__ = ["HPARAMS", "LoRAHparams", "apply"]
