"""LoRA fine-tuning baseline through ``peft``, merged back into the base weights (one ``apply``)."""

from ..registry import MethodSpec
from .hparams import LoRAHparams
from .main import apply

METHOD = MethodSpec("lora", LoRAHparams, apply, needs=frozenset())

__all__ = ["METHOD", "LoRAHparams", "apply"]
