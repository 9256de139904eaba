"""MEMIT hyper-parameters (one TOML file per model under stylekg/configs/memit/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.hparams import BatchedValueHparams


@dataclass(frozen=True)
class MEMITHparams(BatchedValueHparams):
    layers: tuple[int, ...] = (2, 3, 4)  # the critical MLP range; z is optimised after the last one
    mom2_update_weight: float = 15000.0  # lambda of eq. 14 (the reference's GPT-J / Llama value)
    mom2_ridge: float = 0.0  # relative ridge on C; 0 as the reference (100k samples give a full-rank C)

    def stats_layers(self) -> tuple[int, ...]:
        """The layers whose key statistics C the update reads (eq. 14)."""
        return tuple(sorted(self.layers))
