"""The result of any editing method: weight deltas plus an exact, explicit undo."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import EditError
from ..lm.placement import compute_dtype, weight_tensor
from ..paths import atomic_path
from ..requests import EditRequest


@dataclass
class EditResult:
    """What an ``apply`` changed. ``restore()`` brings back bit-identical weights.

    ``originals`` holds exact copies of every changed parameter (taken before the change), so
    restoring never depends on floating-point subtraction. Methods that change no weight
    (activation steering) register undo callables instead (e.g. removing their hooks).

    Precision: ``deltas`` are kept in float32 (or the weight's dtype when wider), whatever the model's dtype. A
    float32 weight gets ``W += delta`` in place, as always. A bfloat16/float16 weight is rewritten as
    ``W = cast(W_0 + D)``, with ``W_0`` its exact original in float32 and ``D`` the float32 sum of every delta
    added so far: one rounding per weight, however many deltas, so re-applying the saved ``D`` to ``W_0``
    (:meth:`load_and_apply`) gives the same bits as the edit that made it.
    """

    method: str
    requests: list[EditRequest]
    deltas: dict[str, torch.Tensor] = field(default_factory=dict)  # param name → W_new - W_old (float32 or wider)
    originals: dict[str, torch.Tensor] = field(default_factory=dict)  # param name → W_old (exact)
    info: dict[str, Any] = field(default_factory=dict)  # losses, layers, timings, hparams
    model: torch.nn.Module | None = field(default=None, repr=False)
    _undo: list[Callable[[], None]] = field(default_factory=list, repr=False)
    restored: bool = False

    @property
    def params_changed(self) -> int:
        return int(sum(int((d != 0).sum()) for d in self.deltas.values()))

    def record_original(self, model: torch.nn.Module, name: str) -> torch.Tensor:
        """Keep an exact copy of a parameter before it is first changed; return the tensor holding its values
        (the parameter, or the CPU copy of an offloaded one: :func:`stylekg.lm.placement.weight_tensor`)."""
        param = weight_tensor(model, name)
        if name not in self.originals:
            self.originals[name] = param.detach().clone()
        self.model = model
        return param

    def add_delta(self, model: torch.nn.Module, name: str, delta: torch.Tensor) -> None:
        """Apply ``W += delta`` (keeping the original) and accumulate the delta in float32 or wider; a weight
        narrower than float32 is rewritten from its original and the accumulated delta, rounded once."""
        param = self.record_original(model, name)
        wide = compute_dtype(param.dtype)
        delta = delta.to(device=param.device, dtype=wide)
        if not torch.isfinite(delta).all():
            raise EditError(f"update of {name} is not finite (NaN/inf)", hint="lower the learning rate or check inputs")
        total = self.deltas[name] + delta if name in self.deltas else delta.detach().clone()
        with torch.no_grad():
            if wide == param.dtype:
                param.add_(delta)
            else:
                param.copy_((self.originals[name].to(wide) + total).to(param.dtype))
        self.deltas[name] = total.detach()

    def on_restore(self, fn: Callable[[], None]) -> None:
        self._undo.append(fn)

    def restore(self) -> None:
        """Undo the edit exactly (idempotent)."""
        if self.restored:
            return
        for fn in reversed(self._undo):
            fn()
        if self.model is not None:
            with torch.no_grad():
                for name, original in self.originals.items():
                    weight_tensor(self.model, name).copy_(original)
        self.restored = True

    # ---- persistence: a small delta file that can be re-applied ----------------------------
    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        meta = {
            "method": self.method,
            "requests": json.dumps([r.to_counterfact() for r in self.requests]),
            "info": json.dumps(self.info, default=str),
        }
        with atomic_path(path) as tmp:  # a resumed run never finds half a delta file
            save_file({k: v.detach().cpu().contiguous() for k, v in self.deltas.items()}, str(tmp), metadata=meta)
        return path

    @classmethod
    def load_and_apply(cls, path: str | Path, model: torch.nn.Module) -> "EditResult":
        """Re-apply a saved delta file to a model; the returned result can restore it."""
        from safetensors import safe_open

        path = Path(path)
        if not path.exists():
            raise EditError(f"delta file {path} does not exist")
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            deltas = {k: handle.get_tensor(k) for k in handle.keys()}
        names = dict(model.named_parameters())
        missing = [k for k in deltas if k not in names]
        if missing:
            raise EditError(f"delta file {path} changes parameters this model lacks: {missing[:3]}")
        for k, d in deltas.items():
            if tuple(d.shape) != tuple(names[k].shape):
                raise EditError(f"delta for {k} has shape {tuple(d.shape)}, model has {tuple(names[k].shape)}")
        requests = [EditRequest.from_counterfact(r) for r in json.loads(meta.get("requests", "[]"))]
        result = cls(method=meta.get("method", "unknown"), requests=requests, info=json.loads(meta.get("info", "{}")))
        for k, d in deltas.items():
            result.add_delta(model, k, d)
        return result
