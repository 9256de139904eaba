"""stylekg: edit styles inside transformer language models through knowledge graphs."""

__version__ = "0.1.0"
