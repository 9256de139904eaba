"""Where stylekg keeps caches, stores and runs (re-exported from the model layer)."""

from .lm.cache import cache_dir, sha256_file, sha256_text, stylekg_home

__all__ = ["cache_dir", "sha256_file", "sha256_text", "stylekg_home"]
