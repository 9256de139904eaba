"""Where the model layer caches dequantized weights and tokenizers, and the file hash that keys them.

``stylekg.lm`` imports nothing else of stylekg, so it reads the home directory itself: ``$STYLEKG_HOME`` (the
same variable as :func:`stylekg.paths.stylekg_home`) or ``~/.cache/stylekg``, on each call (never at import).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


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
