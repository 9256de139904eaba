"""Expensive stage results on disk across run directories, keyed by the weights they were computed on, so that a
fresh run of the same job (the demo, warm) reads them instead of computing them again:

* guarded edits (``$STYLEKG_HOME/edits/<key>/``: the delta file and its record);
* teacher-forced measurements of a request plan (``$STYLEKG_HOME/measurements/<key>.json``).

A key cannot go stale: it holds the sha256 of every weight of the model as it is when the stage runs (edits
applied), what the stage computes from (method, hyper-parameters, requests, material, settings) and the stylekg
version. Run-directory, store and device settings are not part of it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..evaluation.generated_style import weights_fingerprint
from ..paths import atomic_path, atomic_write_text, cache_dir, sha256_text

log = logging.getLogger(__name__)


def weights_key(model: Any, parts: list[Any]) -> str:
    """The key of a result computed from ``model``'s current weights described by ``parts`` (JSON-able)."""
    return sha256_text(f"stylekg {__version__}", weights_fingerprint(model),
                       json.dumps(parts, sort_keys=True, default=str))[:32]


def cached_edit(key: str, delta: Path, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The edit's record, with its delta file at ``delta``: copied from the cache, or made by ``run()`` (which
    writes ``delta``) and then stored. A damaged entry is ignored and rebuilt."""
    entry = cache_dir("edits") / key
    record, stored = entry / "edit.json", entry / "delta.safetensors"
    if record.exists() and stored.exists():
        try:
            out = json.loads(record.read_text("utf-8"))
            with atomic_path(delta) as tmp:
                shutil.copyfile(stored, tmp)
            return out
        except (OSError, ValueError) as exc:
            log.warning("ignoring a damaged edit cache entry %s: %s", key, exc)
    out = run()
    entry.mkdir(parents=True, exist_ok=True)
    with atomic_path(stored) as tmp:
        shutil.copyfile(delta, tmp)
    atomic_write_text(record, json.dumps(out))  # last: an entry without its record is never read
    return out


def cached_value(kind: str, key: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A JSON-able stage result stored under ``$STYLEKG_HOME/<kind>/<key>.json`` (made by ``run()`` on a miss)."""
    path = cache_dir(kind) / f"{key}.json"
    if path.exists():
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring a damaged %s cache entry %s: %s", kind, key, exc)
    out = run()
    atomic_write_text(path, json.dumps(out))
    return out
