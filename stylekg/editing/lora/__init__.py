"""LoRA fine-tuning baseline through ``peft``, merged back into the base weights (one ``apply``)."""

from .main import LoRAHParams, apply

HPARAMS = LoRAHParams

__all__ = ["HPARAMS", "LoRAHParams", "apply"]
