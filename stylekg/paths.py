"""Where stylekg keeps caches, stores and runs, content hashes for cache keys, and atomic file writes.

The model layer (``stylekg.lm``) imports nothing else of stylekg and reads the same ``$STYLEKG_HOME`` for its
model cache (:mod:`stylekg.lm.cache`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOME_ENV = "STYLEKG_HOME"


def stylekg_home() -> Path:
    """Root of every cache and default store: ``$STYLEKG_HOME`` or ``~/.cache/stylekg`` (read on each call)."""
    root = Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "stylekg").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir(*parts: str) -> Path:
    """A sub-directory of the stylekg home, created on demand."""
    path = stylekg_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_text(*parts: str) -> str:
    """Hex sha256 of several strings joined unambiguously (length-prefixed)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


# ---- atomic writes ------------------------------------------------------------------------------------------
# A file is written under a unique temporary name in its own directory, then renamed over the target with
# ``os.replace`` (atomic on POSIX and Windows): a reader sees the old file or the new one, never half of one, and
# two writers never share a temporary. An interrupt removes the temporary; a killed process leaves one behind
# that :func:`remove_stale_temps` recognises by its name (the writer's PID) and age.
TEMP_SUFFIX = ".tmp"
STALE_AFTER_S = 24 * 3600.0


def temp_path(path: str | Path) -> Path:
    """A unique temporary name next to ``path``: ``.<name>.<pid>-<random>.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path for writers that need one (``save_file``, ``savefig``); on success it replaces
    ``path``, on any exception (an interrupt included) it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb+") as handle:  # the content is on disk before the rename makes it visible
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "xb") as handle:  # 'x': the unique name is ours alone; permissions follow the umask
            handle.write(data)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8 unless told); return ``path``."""
    return atomic_write_bytes(path, text.encode(encoding))


_TEMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]+\.tmp$")


def _writer_dead(name: str) -> bool:
    """Whether ``name`` is a :func:`temp_path` name whose writer (the PID in it) no longer runs on this machine."""
    match = _TEMP_NAME.match(name)
    if not match:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False  # a process we may not signal is alive
    return False


def remove_stale_temps(directory: str | Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Delete temporaries in ``directory`` left by writers that died: a name of :func:`temp_path` whose PID is not
    running, or any ``*.tmp`` file (older fixed names included) older than ``older_than_s``. Returns how many."""
    directory, removed, now = Path(directory), 0, time.time()
    if not directory.is_dir():
        return 0
    for tmp in directory.glob(f"*{TEMP_SUFFIX}*"):
        if not tmp.is_file() or not re.search(r"\.tmp(\d*)$", tmp.name):
            continue
        try:
            old = now - tmp.stat().st_mtime > older_than_s
        except FileNotFoundError:
            continue
        if old or _writer_dead(tmp.name):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def read_utf8(path: str | Path, what: str = "file") -> str:
    """The text of ``path``, or a :class:`~stylekg.errors.ConfigError` naming it when it is missing, unreadable or
    not UTF-8 (before any model is loaded)."""
    from .errors import ConfigError

    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          hint="save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
