"""MEMIT hyper-parameters (one TOML file per model under stylekg/configs/memit/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.hparams import BatchedValueHparams


@dataclass(frozen=True)
class MEMITHparams(BatchedValueHparams):
    layers: tuple[int, ...] = (2, 3, 4)  # the critical MLP range; z is optimised after the last one
    mom2_update_weight: float = 15000.0  # lambda of eq. 14
    mom2_ridge: float = 1e-3  # relative ridge on C (a sampled C may be rank-deficient)
