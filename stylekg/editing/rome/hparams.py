"""ROME hyper-parameters (one TOML file per model under stylekg/configs/rome/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.hparams import ValueHparams


@dataclass(frozen=True)
class ROMEHparams(ValueHparams):
    layer: int = 4  # the MLP whose out-projection is rewritten (from causal tracing)
    clamp_norm_factor: float = 4.0
    mom2_adjustment: bool = True  # False: plain least-norm update (C = I)
    mom2_ridge: float = 1e-2  # relative ridge on C (keeps a sampled C invertible)
