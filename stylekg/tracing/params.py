"""Parameters of a causal trace: a frozen dataclass, loadable from TOML like every hparams file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import TraceError

Kind = Literal["residual", "mlp", "attn"]
KINDS: tuple[Kind, ...] = ("residual", "mlp", "attn")


@dataclass(frozen=True)
class TraceParams:
    """Settings of Meng et al.'s causal tracing (defaults are the paper's).

    ``noise`` is the corruption level as a multiple of the input-embedding standard deviation
    (3.0 in the paper, computed over a set of subjects); ``samples`` noised copies run as one
    batch; ``window`` MLP/attention layers are restored together around each layer; ``seed``
    fixes the noise, so a trace is reproducible bit for bit.
    """

    noise: float = 3.0
    samples: int = 10
    window: int = 10
    kinds: tuple[Kind, ...] = KINDS
    seed: int = 0

    def __post_init__(self) -> None:
        if self.noise < 0:
            raise TraceError(f"noise must be >= 0, got {self.noise}")
        if self.samples < 1:
            raise TraceError(f"samples must be >= 1, got {self.samples}")
        if self.window < 1:
            raise TraceError(f"window must be >= 1, got {self.window}")
        kinds = tuple(self.kinds)
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise TraceError(f"unknown trace kind(s) {bad or kinds}", hint=f"use some of {', '.join(KINDS)}")
        object.__setattr__(self, "kinds", kinds)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kinds"] = list(self.kinds)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceParams:
        """Build from a dict (e.g. parsed TOML), naming unknown keys."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise TraceError(f"unknown TraceParams key(s): {', '.join(unknown)}", hint=f"known: {', '.join(sorted(fields))}")
        values = dict(data)
        if "kinds" in values:
            values["kinds"] = tuple(values["kinds"])
        return cls(**values)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def window_layers(layer: int, window: int, num_layers: int) -> range:
    """Layers restored together for a window site at ``layer`` (as in Meng et al.'s code:
    ``window // 2`` below, the rest above, clipped to the model)."""
    return range(max(0, layer - window // 2), min(num_layers, layer - (-window // 2)))
