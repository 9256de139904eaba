"""MEMIT hyper-parameters (one TOML file per model under configs/memit/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import ValueSettings


@dataclass(frozen=True)
class MEMITHparams:
    layers: tuple[int, ...] = (2, 3, 4)  # the critical MLP range; z is optimised after the last one
    v_num_grad_steps: int = 20
    v_lr: float = 0.5
    v_weight_decay: float = 0.5
    clamp_norm_factor: float = 0.75
    kl_factor: float = 0.0625
    stop_nll: float = 0.05
    essence_template: str = "{} is a"
    context_templates: tuple[tuple[int, int], ...] = ((10, 4),)
    batch_requests: int = 16  # requests whose values are optimised together
    stats_samples: int = 4000
    stats_dtype: str = "float32"
    mom2_update_weight: float = 15000.0  # lambda of eq. 14
    mom2_ridge: float = 1e-3  # relative ridge on C (a sampled C may be rank-deficient)

    def value_settings(self) -> ValueSettings:
        return ValueSettings(
            steps=self.v_num_grad_steps,
            lr=self.v_lr,
            weight_decay=self.v_weight_decay,
            clamp_norm_factor=self.clamp_norm_factor,
            kl_factor=self.kl_factor,
            stop_nll=self.stop_nll,
            essence_template=self.essence_template,
            batch_requests=self.batch_requests,
        )
