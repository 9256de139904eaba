"""Layer checks and weight access shared by the editing methods."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...errors import EditError
from ...lm.architectures import Architecture


def check_layers(model: torch.nn.Module, arch: Architecture, layers: Sequence[int]) -> None:
    """Raise a clear EditError if a layer index is outside the model."""
    n = arch.num_layers(model)
    if not layers:
        raise EditError("no layers to edit", hint="set `layers` (or `layer`) in the hyper-parameter file")
    bad = [layer for layer in layers if not 0 <= int(layer) < n]
    if bad:
        raise EditError(
            f"layer(s) {bad} requested but {type(model).__name__} has {n} layers (0-{n - 1})",
            hint="pick layers inside the model in the hyper-parameter file",
        )


def mlp_out_param(arch: Architecture, layer: int) -> str:
    """The parameter name of layer ``layer``'s MLP out-projection weight."""
    return arch.site("mlp_out", layer) + ".weight"


def weight_out_in(model: torch.nn.Module, arch: Architecture, layer: int) -> torch.Tensor:
    """The MLP out-projection weight as (out, in) in float64 (a copy)."""
    return arch.as_out_in(arch.mlp_out_weight(model, layer).detach()).double().clone()


def ridge(cov: torch.Tensor, relative: float) -> torch.Tensor:
    """``cov + relative * mean(diag(cov)) * I`` in float64: keeps a rank-deficient C invertible."""
    cov = cov.double()
    scale = cov.diagonal().mean().clamp_min(1e-12)
    return cov + relative * scale * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
