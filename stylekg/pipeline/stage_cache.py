"""Resumable stages: each stage's JSON output is cached in the run dir under a key of its inputs.

A re-run of the same config skips every stage whose output exists with the same key; a stage that
was interrupted left no file (outputs are written atomically), so it runs again.

A stage's record also holds the sha256 of its output and of the files the stage wrote into the run directory
(``graph.json``, ``edit.safetensors`` …). A record or file that does not read back cleanly (cut short, garbled,
emptied, or an output its type rejects) makes that stage run again: one warning line and a ``redo`` event name the
stage and why. Stages after it keep their outputs when their inputs come out the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..paths import atomic_write_text, sha256_text

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bump when what a stage computes changes: every cached stage output then misses and reruns.
PIPELINE_VERSION = 5


class DamagedStage(ValueError):
    """A stage output that does not read back cleanly; the message says why."""


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
        """The output of ``name`` stored under ``key``; ``None`` when there is none or it has another key;
        :class:`DamagedStage` when the record or one of its files does not verify."""
        path = self.path(name)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DamagedStage(f"{path.name} cannot be read ({type(exc).__name__}: {exc})") from None
        if not isinstance(record, dict) or "key" not in record or "output" not in record:
            raise DamagedStage(f"{path.name} is not a stage record")
        if record["key"] != key:
            return None
        if "sha256" in record and _digest(record["output"]) != record["sha256"]:
            raise DamagedStage(f"{path.name} does not match its recorded sha256")
        for rel, digest in (record.get("files") or {}).items():
            file = self.dir.parent / rel
            if not file.is_file():
                raise DamagedStage(f"{rel} is missing")
            if _file_digest(file) != digest:
                raise DamagedStage(f"{rel} does not match the sha256 recorded when it was written")
        return record["output"]

    def put(self, name: str, key: str, output: Any, files: Sequence[Path] = ()) -> None:
        """Store ``output`` under ``key`` with its sha256 and those of ``files`` (the ones that exist)."""
        plain = json.loads(json.dumps(output, default=str))  # the digest is of what a re-run reads back
        hashes = {str(Path(f).relative_to(self.dir.parent)): _file_digest(Path(f)) for f in files if Path(f).is_file()}
        record = {"key": key, "sha256": _digest(plain), "files": hashes, "output": plain}
        atomic_write_text(self.path(name), json.dumps(record, indent=2, default=str))

    def run(self, name: str, inputs: Any, fn: Callable[[], T], kind: type[T] | None = None,
            files: Sequence[Path] = ()) -> T:
        """Return the cached output of ``name`` for these inputs, or compute, store and return it.

        With ``kind`` (a class with ``to_dict``/``from_dict``) the output is typed: stored as its dict, read back
        with ``kind.from_dict``; a list of such objects works too. ``files``: what the stage writes in the run
        directory; their hashes are recorded, and a damaged one makes the stage run again.
        """
        from .. import __version__

        key = sha256_text(f"v{PIPELINE_VERSION}/{__version__}", json.dumps(inputs, sort_keys=True, default=str))[:16]
        try:
            cached = self.get(name, key)
            if cached is not None:
                typed = cached if kind is None else (
                    [kind.from_dict(c) for c in cached] if isinstance(cached, list)  # type: ignore[attr-defined]
                    else kind.from_dict(cached))  # type: ignore[attr-defined]
                self.resumed.append(name)
                self.on_event(name, "cached")
                return typed  # type: ignore[return-value]
        except (DamagedStage, KeyError, TypeError, ValueError, AttributeError) as exc:
            why = str(exc) if isinstance(exc, DamagedStage) else \
                f"{self.path(name).name} holds an unreadable output ({type(exc).__name__}: {exc})"
            log.warning("stage %s runs again: %s", name, " ".join(why.split()))
            self.on_event(name, "redo")
        self.on_event(name, "start")
        start = time.perf_counter()
        output = fn()
        self.timings[name] = time.perf_counter() - start
        if kind is None:
            plain: Any = output
        else:
            plain = [o.to_dict() for o in output] if isinstance(output, list) else output.to_dict()  # type: ignore[attr-defined]
        self.put(name, key, plain, files)
        self.on_event(name, "done")
        return output


def _digest(value: Any) -> str:
    """sha256 of a JSON value in a canonical form (sorted keys)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
