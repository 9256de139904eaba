"""Guarded edits on disk across run directories (``$STYLEKG_HOME/edits/<key>/``), so that a fresh run of the same
edit on the same weights (the demo, warm) reads its delta file instead of training again.

The key cannot go stale: it holds the sha256 of every weight the edit starts from, the method, its
hyper-parameters, the requests, the material the method trains on (markers, neutral forms, occurrences), the
guard's settings and the stylekg version. Run-directory, store and device settings are not part of it.
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


def edit_key(model: Any, parts: list[Any]) -> str:
    """The key of an edit of ``model``'s current weights described by ``parts`` (JSON-able)."""
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
