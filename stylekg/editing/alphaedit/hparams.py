"""AlphaEdit hyper-parameters (one TOML file per model under stylekg/configs/alphaedit/)."""

from __future__ import annotations

from dataclasses import dataclass

from ..common.hparams import BatchedValueHparams


@dataclass(frozen=True)
class AlphaEditHparams(BatchedValueHparams):
    layers: tuple[int, ...] = (2, 3, 4)
    # stats_samples: preserved-knowledge keys K0, E[k0 k0^T] over the corpus
    nullspace_mode: str = "absolute"  # "absolute" (eigenvalue < threshold, the reference's rule) or "energy"
    nullspace_threshold: float = 2e-2  # absolute mode: eigen-directions of E[k0 k0^T] below this (reference: 2e-2)
    nullspace_energy: float = 0.99  # energy mode: null space holds at most (1 - energy) of the spectrum
    l2: float = 10.0  # the identity weight of the update's inverse (the paper's "+ I" term, scaled)
    # graph guard: the preserved keys' directions removed from the null space, at most this many (their
    # principal directions: a large preserved set would otherwise leave no room for the edit)
    guard_max_rank: int = 256

    def stats_layers(self) -> tuple[int, ...]:
        """The layers whose key statistics C the null-space projections come from."""
        return tuple(sorted(self.layers))
