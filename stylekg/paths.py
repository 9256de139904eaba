"""Where stylekg keeps caches, stores and runs, and content hashes for cache keys.

The model layer (``stylekg.lm``) imports nothing else of stylekg and reads the same ``$STYLEKG_HOME`` for its
model cache (:mod:`stylekg.lm.cache`).
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


def sha256_text(*parts: str) -> str:
    """Hex sha256 of several strings joined unambiguously (length-prefixed)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()
