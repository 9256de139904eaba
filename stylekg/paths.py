"""Where stylekg keeps caches, stores and runs, content hashes for cache keys, and atomic file writes.

The model layer (``stylekg.lm``) keeps its own copy of the home-directory rule (``stylekg.lm.cache``) because
it imports nothing else of stylekg; both read ``$STYLEKG_HOME``.
"""

from __future__ import annotations

import hashlib
import os
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


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file's content (streamed)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(*parts: str) -> str:
    """Hex sha256 of several strings joined unambiguously (length-prefixed)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()
