"""Is a LadybugDB file whole? Checked before the process opens it, because a damaged file can crash the process.

LadybugDB offers no integrity check of its own, and a damaged file does not always fail politely: 64 bytes of
0xFF written into an 8 MB store gave, depending on where they landed, ``RuntimeError`` (“Cannot load hash
index”, “not a valid Lbug database file”), ``UnicodeDecodeError``, a failed internal assertion,
``MemoryError: std::bad_alloc``, or a segmentation fault (exit 139, no message) that no ``except`` can catch.
So a file this machine has not seen whole is first opened by a short subprocess (:data:`PROBE`: open, count nodes
and edges, read every node); whatever it dies of, the real process gets one :class:`StoreError` naming the file
and the fix.

The probe costs a Python start and a scan (~1 s for the library). It is skipped for a file whose size and
modification time match those recorded when this machine last closed it, or last probed it, whole
(``$STYLEKG_HOME/store-checks/``, checked entries): the usual case, since stylekg's own writes record the file on
close. A file changed by anything else (a copy, another tool, a disk error) is probed again.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

from ...errors import StoreError
from ...lm.cache import read_checked_json, write_checked_json
from ...paths import cache_dir

log = logging.getLogger(__name__)
SCHEMA = 1
PROBE_TIMEOUT_S = 300.0
PROBE = r"""
import sys
import ladybug
db = ladybug.Database(sys.argv[1], read_only=sys.argv[2] == "1")
conn = ladybug.Connection(db)
for query in ("MATCH (n) RETURN count(n)", "MATCH ()-[r]->() RETURN count(r)", "MATCH (n) RETURN n"):
    result = conn.execute(query)
    for res in result if isinstance(result, list) else [result]:
        for _ in res.rows_as_dict():
            pass
        res.close()
conn.close()
db.close()
"""


def _record_path(path: Path) -> Path:
    return cache_dir("store-checks") / f"{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]}.json"


def _stamp(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def record_whole(path: Path) -> None:
    """Remember ``path`` as whole as it is now (after this process closed it, or a probe read it)."""
    try:
        write_checked_json(_record_path(path), _stamp(path), "store-check", SCHEMA)
    except OSError as exc:  # a read-only home: the next open probes again
        log.debug("cannot record store check of %s: %s", path, exc)


def damage_error(path: Path, detail: str) -> StoreError:
    """The one-line error for a damaged store file."""
    return StoreError(
        f"the graph store {path} is damaged ({' '.join(detail.split())[:300]})",
        hint=f"restore it from a backup copy, or move it aside and rebuild it with `stylekg kg save --library --store "
             f"{path}` plus `stylekg kg save FILE --graph NAME --store {path}` for each graph you had exported "
             f"(`stylekg kg load NAME --out FILE`)",
    )


def check_store_file(path: Path, read_only: bool) -> None:
    """Raise :class:`StoreError` when the LadybugDB file ``path`` cannot be opened and read whole; nothing when
    it is absent (a new store) or known whole."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    if read_checked_json(_record_path(path), "store-check", SCHEMA) == _stamp(path):
        return
    try:
        done = subprocess.run([sys.executable, "-c", PROBE, str(path), "1" if read_only else "0"],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("checking the graph store %s took over %.0f s; opening it unchecked", path, PROBE_TIMEOUT_S)
        return
    if done.returncode == 0:
        record_whole(path)
        return
    lines = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if "lock" in (done.stderr or "").lower():  # in use by another process: the real open says so (LadybugDB's
        return  # message may be followed by a "See the docs" line, so the whole of stderr is read)
    if done.returncode < 0:
        detail = f"reading it crashed the process with signal {-done.returncode}"
    else:
        detail = last or f"reading it failed with exit code {done.returncode}"
    raise damage_error(path, detail)
