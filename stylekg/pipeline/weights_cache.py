"""Expensive stage results on disk across run directories, keyed by the weights they were computed on, so that a
fresh run of the same job (the demo, warm) reads them instead of computing them again:

* guarded edits (``$STYLEKG_HOME/edits/<key>/``: the delta file and its record);
* teacher-forced measurements of a request plan (``$STYLEKG_HOME/measurements/<key>.json``).

A key cannot go stale: it holds the sha256 of every weight of the model as it is when the stage runs (edits
applied), what the stage computes from (method, hyper-parameters, requests, material, settings) and the stylekg
version. Run-directory, store and device settings are not part of it.

Every file is a checked entry (:mod:`stylekg.lm.cache`): a damaged one is dropped with one warning and computed
again, so a changed byte can never change a run's results.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..evaluation.generated_style import weights_fingerprint
from ..lm.cache import read_checked, read_checked_json, reject_entry, write_checked, write_checked_json
from ..paths import atomic_write_bytes, cache_dir, sha256_text

log = logging.getLogger(__name__)
SCHEMA = 1  # checked-entry schema of the records, deltas and values below


def weights_key(model: Any, parts: list[Any]) -> str:
    """The key of a result computed from ``model``'s current weights described by ``parts`` (JSON-able)."""
    return sha256_text(f"stylekg {__version__}", weights_fingerprint(model),
                       json.dumps(parts, sort_keys=True, default=str))[:32]


def cached_edit(key: str, delta: Path, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The edit's record, with its delta file at ``delta``: copied from the cache, or made by ``run()`` (which
    writes ``delta``) and then stored. A damaged entry (record or delta) is dropped and rebuilt."""
    entry = cache_dir("edits") / key
    record_path, stored = entry / "edit.json", entry / "delta.safetensors"
    record = read_checked_json(record_path, "edit-record", SCHEMA)
    if isinstance(record, dict) and "delta_sha256" in record and "record" in record:
        data = read_checked(stored, "edit-delta", SCHEMA)
        if data is not None and hashlib.sha256(data).hexdigest() == record["delta_sha256"]:
            atomic_write_bytes(delta, data)
            return record["record"]
        if data is not None:
            reject_entry(stored, "not the delta its record names")
        reject_entry(record_path, "its delta file is damaged")
    elif record is not None:
        reject_entry(record_path, "not an edit record")
    out = run()
    data = Path(delta).read_bytes()
    write_checked(stored, data, "edit-delta", SCHEMA)
    write_checked_json(record_path, {"record": out, "delta_sha256": hashlib.sha256(data).hexdigest()},
                       "edit-record", SCHEMA)  # last: an entry without its record is never read
    return out


def cached_value(kind: str, key: str, run: Callable[[], dict[str, Any]],
                 check: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """A JSON-able stage result stored under ``$STYLEKG_HOME/<kind>/<key>.json`` (made by ``run()`` on a miss).
    ``check`` (e.g. the result type's ``from_dict``) is called on a cached value: one it rejects is dropped as
    damaged and computed again."""
    path = cache_dir(kind) / f"{key}.json"
    value = read_checked_json(path, kind, SCHEMA)
    if value is not None:
        try:
            if check is not None:
                check(value)
            return value
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reject_entry(path, f"not a {kind} value ({type(exc).__name__}: {exc})")
    out = run()
    write_checked_json(path, out, kind, SCHEMA)
    return out
