"""LEACE concept erasure for one binary concept (Belrose et al. 2023, "LEACE: Perfect linear
concept erasure in closed form", Theorem 4.3).

With ``Sigma`` the covariance of ``x``, ``W = Sigma^{-1/2}`` (pseudo-inverse square root, the
whitening map) and ``Sigma_xz`` the cross-covariance of ``x`` with the concept ``z``, the eraser is

    r(x) = x - W^+ P W (x - mu),      P = orthogonal projection onto colspan(W Sigma_xz).

For a binary ``z`` the cross-covariance is one column, ``Sigma_xz = p (1 - p) (mu_1 - mu_0)``, so
``P = u u^T / |u|^2`` with ``u = W Sigma_xz``. After erasure both classes have the same mean, so no
linear classifier beats a constant (linear guardedness), and among such maps ``r`` moves ``x`` least
in the ``Sigma``-weighted sense.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...errors import EditError


@dataclass(frozen=True)
class LeaceEraser:
    """``x -> x - proj (x - mean)``; ``proj = W^+ u u^T W / |u|^2`` stored factored as two vectors."""

    mean: torch.Tensor  # (d,)
    left: torch.Tensor  # (d,) = W^+ u / |u|
    right: torch.Tensor  # (d,) = W u / |u|   (W symmetric)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mean, left, right = (t.to(device=x.device, dtype=x.dtype) for t in (self.mean, self.left, self.right))
        return x - ((x - mean) @ right)[..., None] * left


def fit_leace(x: torch.Tensor, z: torch.Tensor, *, rel_tol: float = 1e-5) -> LeaceEraser:
    """Fit the LEACE eraser for activations ``x`` (n, d) and binary labels ``z`` (n,)."""
    z = z.to(torch.float64).flatten()
    if x.ndim != 2 or len(x) != len(z):
        raise EditError(f"LEACE needs x of shape (n, d) and n labels, got {tuple(x.shape)} and {len(z)}")
    classes = torch.unique(z)
    if len(classes) != 2:
        raise EditError(f"LEACE needs two classes (style and neutral), got {len(classes)}",
                        hint="give both style texts and neutral texts")
    x = x.to(torch.float64)
    mu = x.mean(dim=0)
    xc = x - mu
    sigma = xc.T @ xc / len(x)
    sigma_xz = xc.T @ (z - z.mean()) / len(x)  # (d,), the cross-covariance column
    evals, evecs = torch.linalg.eigh(sigma)
    keep = evals > rel_tol * evals.max().clamp(min=1e-30)  # pseudo-inverse: drop the null space
    v, lam = evecs[:, keep], evals[keep]
    whiten = (v * lam.rsqrt()) @ v.T  # W = Sigma^{-1/2}
    unwhiten = (v * lam.sqrt()) @ v.T  # W^+ = Sigma^{1/2}
    u = whiten @ sigma_xz
    norm = u.norm()
    if norm <= 0:
        raise EditError("the two classes have identical activations: nothing to erase")
    u = u / norm
    return LeaceEraser(mean=mu.float(), left=(unwhiten @ u).float(), right=(whiten @ u).float())
