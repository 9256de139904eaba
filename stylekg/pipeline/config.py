"""The run config: every setting of ``stylekg run``, from flags or a TOML file, recorded in the run dir."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..paths import sha256_text


MODES = ("erase", "replace", "insert")
PROPAGATION = ("explicit", "implicit", "none")


@dataclass(frozen=True)
class RunConfig:
    """What ``stylekg run`` does. Devices, stores and endpoints live here, not in method hparams."""

    style: str = ""  # a library style name, or anything an LLM can decompose
    auto: str = ""  # a wide subject to expand into several styles instead of ``style``
    mode: str = "erase"
    node: str = ""  # the node to edit (default: the style's first abstract parent when propagating)
    propagate: str = "explicit"
    method: str = "memit"
    model: str = "smollm2-135m"
    device: str = "cpu"
    store: str | None = None  # None: the embedded LadybugDB in $STYLEKG_HOME
    provider: str = "library"  # library | openai | local
    llm_model: str = ""
    seed: int = 0
    presence_threshold: float = 1.0  # nats over a neutral subject for an edge to count as held
    install_if_absent: bool = True  # insert the markers first when the model lacks the style
    max_markers: int = 4
    trace_samples: int = 5
    trace_facts: int = 2
    generations: int = 3
    runs_dir: str = "runs"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.style and not self.auto:
            raise ConfigError("a run needs a style (or --auto 'a wide subject')", hint="e.g. stylekg run 'Donald Trump' --erase")
        if self.mode not in MODES:
            raise ConfigError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.propagate not in PROPAGATION:
            raise ConfigError(f"propagate {self.propagate!r} is not one of {', '.join(PROPAGATION)}")
        if self.presence_threshold < 0:
            raise ConfigError("presence_threshold must be >= 0")

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "RunConfig":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"run config {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        data = data.get("run", data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) in {path}: {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        lines = ["[run]"]
        for key, value in self.to_dict().items():
            if value is None or key == "extra":
                continue
            lines.append(f"{key} = {json.dumps(value)}")
        return "\n".join(lines) + "\n"

    @property
    def key(self) -> str:
        """A content hash of the settings: the run id's suffix and the stage cache key."""
        return sha256_text(json.dumps(self.to_dict(), sort_keys=True, default=str))[:12]
