"""The optimisation loop shared by FT-L, penalty FT and classifier-guided FT.

Weights are trained in place (only the named parameters require gradients), optionally kept
inside an L-infinity ball around their original values (FT-L, Zhu et al. 2020, the baseline of
Meng et al. 2022 "ROME", §3: ``||theta - theta_0||_inf <= eps``, enforced by clamping after every
Adam step). At the end the change is handed to :class:`EditResult` as a delta, so ``restore()``
copies the exact originals back.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence

import torch
from tqdm.auto import tqdm

from ...errors import EditError
from ...lm.architectures import Architecture, get_module
from ...lm.placement import compute_dtype, is_offloaded
from ..result import EditResult

log = logging.getLogger(__name__)

LossFn = Callable[[], tuple[torch.Tensor, dict[str, float]]]
SITES = ("mlp_out", "mlp_in", "attn_out")


def weight_names(model: torch.nn.Module, arch: Architecture, site: str, layers: Sequence[int]) -> list[str]:
    """Parameter names of the ``site`` projection weight at each layer (validated)."""
    if site not in SITES:
        raise EditError(f"unknown site {site!r} to fine-tune", hint=f"choose one of {', '.join(SITES)}")
    n = arch.num_layers(model)
    bad = [layer for layer in layers if not 0 <= layer < n]
    if not layers or bad:
        raise EditError(f"layers {list(layers)} are not valid for this {n}-layer model", hint=f"use 0..{n - 1}")
    names = []
    for layer in layers:
        module = arch.site(site, layer)  # type: ignore[arg-type]
        get_module(model, module)
        names.append(f"{module}.weight")
    return names


@contextlib.contextmanager
def only_trainable(model: torch.nn.Module, params: Sequence[torch.nn.Parameter]) -> Iterator[None]:
    """Gradients for ``params`` only; every parameter's ``requires_grad`` flag is restored on exit."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def optimise(
    model: torch.nn.Module,
    result: EditResult,
    names: Sequence[str],
    loss_fn: LossFn,
    *,
    steps: int,
    lr: float,
    norm_constraint: float = math.inf,
    weight_decay: float = 0.0,
    early_stop_loss: float = -math.inf,
    desc: str = "fine-tuning",
) -> list[dict[str, float]]:
    """Minimise ``loss_fn()`` over the named weights with Adam; record the change in ``result``.

    Returns the loss history (one dict per step). The model ends with ``W_0 + delta`` in place and
    ``result`` holding the originals; the caller restores on failure.
    """
    if steps < 1 or lr <= 0:
        raise EditError(f"need steps >= 1 and lr > 0, got steps={steps}, lr={lr}")
    if norm_constraint <= 0:
        raise EditError(f"norm_constraint must be > 0 (inf = unconstrained), got {norm_constraint}")
    offloaded = [n for n in names if is_offloaded(model, n)]
    if offloaded:
        raise EditError(f"{desc}: {offloaded[0]} is offloaded to the CPU and cannot be trained",
                        hint="place the fine-tuned layers on a device (a device map without offload for them)")
    params = [result.record_original(model, n) for n in names]
    originals = [result.originals[n] for n in names]
    # float32 master copies of weights narrower than float32 (mixed precision): Adam's small steps would be lost
    # in bfloat16 rounding. The model's weight is rewritten from its master (one cast) after every step.
    masters = [p if compute_dtype(p.dtype) == p.dtype else p.detach().to(compute_dtype(p.dtype)).requires_grad_()
               for p in params]
    bounds = [w0.to(m.dtype) for w0, m in zip(originals, masters)]
    history: list[dict[str, float]] = []
    with only_trainable(model, params):
        opt = torch.optim.Adam(masters, lr=lr, weight_decay=weight_decay)
        bar = tqdm(range(steps), desc=desc, leave=False, disable=steps < 20 or not log.isEnabledFor(logging.INFO))
        for step in bar:
            opt.zero_grad(set_to_none=True)
            for p, m in zip(params, masters):
                if m is not p:
                    p.grad = None
            loss, parts = loss_fn()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise EditError(f"{desc}: loss became {value} at step {step}", hint="lower lr or lambda")
            history.append({"step": step, "loss": value, **parts})
            if value < early_stop_loss:
                break
            loss.backward()
            for p, m in zip(params, masters):
                if m is not p and p.grad is not None:
                    m.grad = p.grad.to(m.dtype)
            opt.step()
            with torch.no_grad():
                if math.isfinite(norm_constraint):
                    for m, w0 in zip(masters, bounds):
                        m.copy_(torch.clamp(m, min=w0 - norm_constraint, max=w0 + norm_constraint))
                for p, m in zip(params, masters):
                    if m is not p:
                        p.copy_(m)
    with torch.no_grad():  # hand the change to the result as a delta on top of the exact original
        for name, p, m, w0 in zip(names, params, masters, bounds):
            delta = m.detach() - w0
            p.copy_(result.originals[name])
            result.add_delta(model, name, delta)
    log.info("%s: loss %.4f -> %.4f in %d steps", desc, history[0]["loss"], history[-1]["loss"], len(history))
    return history
