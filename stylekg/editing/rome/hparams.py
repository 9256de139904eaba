"""ROME hyper-parameters (one TOML file per model under configs/rome/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import ValueSettings


@dataclass(frozen=True)
class ROMEHparams:
    layer: int = 4  # the MLP whose out-projection is rewritten (from causal tracing)
    v_num_grad_steps: int = 20
    v_lr: float = 0.5
    v_weight_decay: float = 0.5
    clamp_norm_factor: float = 4.0
    kl_factor: float = 0.0625
    stop_nll: float = 0.05
    essence_template: str = "{} is a"
    context_templates: tuple[tuple[int, int], ...] = ((10, 4),)  # (prefix tokens, how many)
    stats_samples: int = 4000  # token vectors for C = E[k k^T]
    stats_dtype: str = "float32"
    mom2_adjustment: bool = True  # False: plain least-norm update (C = I)
    mom2_ridge: float = 1e-2  # relative ridge on C (keeps a sampled C invertible)

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
