"""Resumable stages: each stage's JSON output is cached in the run dir under a key of its inputs.

A re-run of the same config skips every stage whose output exists with the same key; a stage that
was interrupted left no file (outputs are written atomically), so it runs again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..paths import atomic_write_text, sha256_text

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bump when what a stage computes changes: every cached stage output then misses and reruns.
PIPELINE_VERSION = 5


class StageCache:
    """Stage outputs as ``<run_dir>/stages/<name>.json`` with the key of their inputs."""

    def __init__(self, run_dir: Path, on_event: Callable[[str, str], None] | None = None) -> None:
        self.dir = Path(run_dir) / "stages"  # created by the first put: a run that fails its checks leaves nothing
        self.on_event = on_event or (lambda stage, status: None)
        self.timings: dict[str, float] = {}
        self.resumed: list[str] = []

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def get(self, name: str, key: str) -> Any | None:
        path = self.path(name)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return record["output"] if isinstance(record, dict) and record.get("key") == key else None

    def put(self, name: str, key: str, output: Any) -> None:
        atomic_write_text(self.path(name), json.dumps({"key": key, "output": output}, indent=2, default=str))

    def run(self, name: str, inputs: Any, fn: Callable[[], T], kind: type[T] | None = None) -> T:
        """Return the cached output of ``name`` for these inputs, or compute, store and return it.

        With ``kind`` (a class with ``to_dict``/``from_dict``) the output is typed: stored as its dict, read back
        with ``kind.from_dict``; a list of such objects works too.
        """
        from .. import __version__

        key = sha256_text(f"v{PIPELINE_VERSION}/{__version__}", json.dumps(inputs, sort_keys=True, default=str))[:16]
        cached = self.get(name, key)
        if cached is not None:
            self.resumed.append(name)
            self.on_event(name, "cached")
            if kind is None:
                return cached
            return [kind.from_dict(c) for c in cached] if isinstance(cached, list) else kind.from_dict(cached)  # type: ignore[attr-defined,return-value]
        self.on_event(name, "start")
        start = time.perf_counter()
        output = fn()
        self.timings[name] = time.perf_counter() - start
        if kind is None:
            plain: Any = output
        else:
            plain = [o.to_dict() for o in output] if isinstance(output, list) else output.to_dict()  # type: ignore[attr-defined]
        self.put(name, key, plain)
        self.on_event(name, "done")
        return output
