"""ROME hyper-parameters (one TOML file per model under stylekg/configs/rome/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.hparams import ValueHparams


@dataclass(frozen=True)
class ROMEHparams(ValueHparams):
    layer: int = 4  # the MLP whose out-projection is rewritten (from causal tracing)
    mom2_adjustment: bool = True  # False: plain least-norm update (C = I)
    mom2_ridge: float = 0.0  # relative ridge on C; 0 as the reference (100k samples give a full-rank C)

    def stats_layers(self) -> tuple[int, ...]:
        """The layers whose key statistics C the update reads (none for the plain least-norm update)."""
        return (self.layer,) if self.mom2_adjustment else ()
