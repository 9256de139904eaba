"""AlphaEdit hyper-parameters (one TOML file per model under configs/alphaedit/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import ValueSettings


@dataclass(frozen=True)
class AlphaEditHparams:
    layers: tuple[int, ...] = (2, 3, 4)
    v_num_grad_steps: int = 20
    v_lr: float = 0.5
    v_weight_decay: float = 0.5
    clamp_norm_factor: float = 0.75
    kl_factor: float = 0.0625
    stop_nll: float = 0.05
    essence_template: str = "{} is a"
    context_templates: tuple[tuple[int, int], ...] = ((10, 4),)
    batch_requests: int = 16
    stats_samples: int = 4000  # preserved-knowledge keys K0: E[k0 k0^T] over the corpus
    stats_dtype: str = "float32"
    nullspace_mode: str = "energy"  # "absolute" (eigenvalue < threshold, as published) or "energy"
    nullspace_threshold: float = 1e-2  # absolute mode: keep eigen-directions of K0 K0^T below this
    nullspace_energy: float = 0.99  # energy mode: null space holds at most (1 - energy) of the spectrum
    l2: float = 10.0  # the identity weight of the update's inverse (the paper's "+ I" term, scaled)

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
