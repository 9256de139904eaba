"""Hyper-parameters shared by the closed-form editors (ROME, MEMIT, AlphaEdit): the value optimisation
(ROME eq. 4 / MEMIT eq. 16) and the key statistics C = E[k k^T]. Each method's dataclass extends these."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .values import ValueSettings


@dataclass(frozen=True)
class ValueHparams:
    v_num_grad_steps: int = 20
    v_lr: float = 0.5
    v_weight_decay: float = 0.5
    clamp_norm_factor: float = 0.75
    kl_factor: float = 0.0625
    stop_nll: float = 0.05
    essence_template: str = "{} is a"
    context_templates: tuple[tuple[int, int], ...] = ((10, 4),)  # (prefix tokens, how many)
    stats_samples: int = 4000  # token vectors for C = E[k k^T]
    stats_dtype: str = "float32"

    def value_settings(self) -> ValueSettings:
        return ValueSettings(
            steps=self.v_num_grad_steps,
            lr=self.v_lr,
            weight_decay=self.v_weight_decay,
            clamp_norm_factor=self.clamp_norm_factor,
            kl_factor=self.kl_factor,
            stop_nll=self.stop_nll,
            essence_template=self.essence_template,
        )


@dataclass(frozen=True)
class BatchedValueHparams(ValueHparams):
    """For editors that optimise many requests' values together (MEMIT, AlphaEdit)."""

    batch_requests: int = 16  # requests whose values are optimised together

    def value_settings(self) -> ValueSettings:
        return replace(super().value_settings(), batch_requests=self.batch_requests)
