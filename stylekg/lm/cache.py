"""Where stylekg caches things, the file hash that keys them, and *checked entries*: cache files that carry what
they need to be verified when read.

``stylekg.lm`` imports nothing else of stylekg, so it reads the home directory itself: ``$STYLEKG_HOME`` (the
same variable as :func:`stylekg.paths.stylekg_home`) or ``~/.cache/stylekg``, on each call (never at import).

Checked entries are the one mechanism every cache uses (models, tokenizers, key statistics, generations,
measurements, edits, LLM answers). It lives here, on the ground floor, because every part that owns a cache may
import ``lm`` while ``lm`` may import nothing else. A checked file is one header line followed by the payload::

    STYLEKG-CHECKED 1 kind=<kind> schema=<n> bytes=<len> sha256=<hex of the payload>\\n<payload>

It is written atomically (a unique temporary in the same folder, ``fsync``, ``os.replace``). Reading verifies the
kind, the schema version, the length and the sha256; a file that fails is *damaged*: one warning line names it,
it is deleted, and the reader gets ``None``, so the caller computes the value again and writes a fresh entry. A
file of an older schema is dropped the same way, with an info line only; a file without a header (damaged, or
written before entries were checked) gets the warning.
Large weights are hashed once per process (:func:`verified_sha256` memoises by path, size and mtime).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAGIC = b"STYLEKG-CHECKED"
HEADER_VERSION = 1
_HEADER_MAX = 512  # a header longer than this is not one


def cache_dir(*parts: str) -> Path:
    """A sub-directory of the stylekg home (``$STYLEKG_HOME`` or ``~/.cache/stylekg``), created on demand."""
    path = Path(os.environ.get("STYLEKG_HOME") or Path.home() / ".cache" / "stylekg").expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file's content (streamed)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) → sha256, for this process only


def verified_sha256(path: Path) -> str:
    """:func:`sha256_file` of ``path``, computed at most once per process for a file whose size and modification
    time have not changed since (a model's weights are hundreds of MB: hashed once, not at every load)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path)
    return _VERIFIED[key]


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically under the temporary name :mod:`stylekg.paths` uses
    (``.<name>.<pid>-<random>.tmp``, so its stale-temporary cleaner knows it); return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def checked_bytes(payload: bytes, kind: str, schema: int) -> bytes:
    """``payload`` with its checked-entry header."""
    if not kind or any(c.isspace() for c in kind):
        raise ValueError(f"a cache kind is one word, not {kind!r}")
    digest = hashlib.sha256(payload).hexdigest()
    header = f"{MAGIC.decode()} {HEADER_VERSION} kind={kind} schema={int(schema)} bytes={len(payload)} sha256={digest}\n"
    return header.encode("ascii") + payload


def write_checked(path: Path, payload: bytes, kind: str, schema: int) -> Path:
    """Write ``payload`` as a checked entry of ``kind`` (schema version ``schema``) at ``path``, atomically."""
    return atomic_write_bytes(path, checked_bytes(payload, kind, schema))


class DamagedEntry(ValueError):
    """A checked entry that does not verify (raised by :func:`parse_checked`, never past :func:`read_checked`)."""

    def __init__(self, reason: str, outdated: bool = False) -> None:
        super().__init__(reason)
        self.outdated = outdated


def parse_checked(data: bytes, kind: str, schema: int) -> bytes:
    """The payload of a checked entry's bytes; :class:`DamagedEntry` saying why when it does not verify."""
    end = data.find(b"\n", 0, _HEADER_MAX)
    if not data.startswith(MAGIC) or end < 0:
        raise DamagedEntry("no checked-entry header: damaged, or written before entries were checked" if data
                           else "empty file")
    try:
        magic, version, *fields = data[:end].decode("ascii").split(" ")
        header = dict(field.split("=", 1) for field in fields)
        size, digest, found_schema = int(header["bytes"]), header["sha256"], int(header["schema"])
    except (UnicodeDecodeError, ValueError, KeyError):
        raise DamagedEntry("garbled header") from None
    if version != str(HEADER_VERSION) or found_schema != int(schema):
        raise DamagedEntry(f"schema {found_schema}, this version reads {schema}", outdated=True)
    if header.get("kind") != kind:
        raise DamagedEntry(f"a {header.get('kind')!r} entry where a {kind!r} entry belongs")
    payload = data[end + 1:]
    if len(payload) != size:
        raise DamagedEntry(f"{len(payload)} bytes, the header says {size} (cut short)" if len(payload) < size
                           else f"{len(payload)} bytes, the header says {size}")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise DamagedEntry("content does not match its sha256")
    return payload


def drop_entry(path: Path, reason: str, outdated: bool = False) -> None:
    """Delete a cache entry that cannot be trusted, with one log line naming it (a warning when it is damaged,
    an info line when it is merely of an older format)."""
    if outdated:
        log.info("rebuilding cache entry %s (%s)", path, reason)
    else:
        log.warning("damaged cache entry %s (%s): removed, rebuilding it", path, reason)
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache: the entry is ignored and rewritten over when possible


def read_checked(path: Path, kind: str, schema: int) -> bytes | None:
    """The verified payload of the checked entry at ``path``; ``None`` when there is none or it is damaged or
    outdated (then it is deleted and logged by :func:`drop_entry`, and the caller rebuilds it)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        log.warning("cache entry %s is a folder, not a file: ignored", path)
        return None
    except OSError as exc:
        log.warning("cache entry %s cannot be read (%s): ignored", path, exc.strerror or exc)
        return None
    try:
        return parse_checked(data, kind, schema)
    except DamagedEntry as exc:
        drop_entry(path, str(exc), exc.outdated)
        return None


def write_checked_json(path: Path, value: Any, kind: str, schema: int) -> Path:
    """Write a JSON-able ``value`` as a checked entry."""
    return write_checked(path, json.dumps(value, sort_keys=True, default=str).encode("utf-8"), kind, schema)


def read_checked_json(path: Path, kind: str, schema: int) -> Any | None:
    """The JSON value of a checked entry (``None`` as :func:`read_checked`); a payload that verifies but is not
    JSON (written by a bug) is dropped as damaged too."""
    payload = read_checked(path, kind, schema)
    if payload is None:
        return None
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        drop_entry(Path(path), f"not JSON: {exc}")
        return None


def reject_entry(path: Path, reason: str) -> None:
    """For a caller whose entry verified but cannot be used (its JSON has the wrong shape): drop it as damaged."""
    drop_entry(Path(path), reason)
