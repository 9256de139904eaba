"""The null-space projection of AlphaEdit (Fang et al., ICLR 2025, §3.2).

P = U_hat U_hat^T, U_hat the eigenvectors of K0 K0^T whose eigenvalues are "zero". The paper
(and its code) calls an eigenvalue zero when it is below an absolute threshold (1e-2); on models
whose key spectrum sits above that value the null space is empty and no edit is possible, so an
energy-relative rule is offered too: take the smallest eigen-directions whose eigenvalues sum to at
most (1 - energy) of the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...errors import EditError

MODES = ("absolute", "energy")


@dataclass(frozen=True)
class NullSpace:
    projection: torch.Tensor  # (d_in, d_in) float64, symmetric, idempotent
    kept: int  # directions kept
    dim: int
    energy_kept: float  # fraction of the spectrum's energy inside the kept directions


def null_space(cov: torch.Tensor, *, mode: str = "energy", threshold: float = 1e-2, energy: float = 0.99) -> NullSpace:
    """The projection onto the (approximate) null space of ``cov`` = K0 K0^T (up to scale)."""
    if mode not in MODES:
        raise EditError(f"unknown nullspace_mode {mode!r}", hint=f"use one of {', '.join(MODES)}")
    if not 0.0 < energy <= 1.0:
        raise EditError(f"nullspace_energy must be in (0, 1], got {energy}")
    evals, evecs = torch.linalg.eigh(cov.double())  # ascending
    evals = evals.clamp_min(0.0)
    total = float(evals.sum()) or 1.0
    if mode == "absolute":
        keep = evals < threshold
    else:
        keep = torch.cumsum(evals, 0) <= (1.0 - energy) * total + 1e-12 * total
    basis = evecs[:, keep]
    return NullSpace(basis @ basis.T, int(keep.sum()), cov.shape[0], float(evals[keep].sum()) / total)


def alphaedit_update(
    keys: torch.Tensor, resid: torch.Tensor, projection: torch.Tensor, previous: torch.Tensor, l2: float
) -> torch.Tensor:
    """Delta = R K1^T P (K_p K_p^T P + K1 K1^T P + l2 I)^-1 (AlphaEdit eq. 14), (out, in) float64.

    ``keys`` (n, d_in) are the new edits' keys K1^T, ``resid`` (d, n), ``previous`` = K_p K_p^T.
    Computed as the transpose of (P (K1 K1^T + K_p K_p^T) + l2 I)^-1 P K1 R^T, which equals it
    because P symmetric gives P (A P + l2 I)^-1 = (P A + l2 I)^-1 P; every column of the
    result lies in the range of P, so Delta k0 = 0 for the preserved keys.
    """
    keys = keys.double()
    p = projection.double()
    eye = torch.eye(p.shape[0], dtype=p.dtype, device=p.device)
    a = p @ (keys.T @ keys + previous.double()) + l2 * eye
    x = torch.linalg.solve(a, p @ keys.T @ resid.double().T)  # (d_in, d)
    return x.T
