"""AlphaEdit: null-space constrained knowledge editing (Fang et al., ICLR 2025)."""

from ..registry import MethodSpec, Need
from .hparams import AlphaEditHparams
from .main import KeyCache, apply
from .projection import NullSpace, alphaedit_update, null_space

# sequential editing carries the earlier edits' keys from one apply to the next (context.key_cache)
METHOD = MethodSpec("alphaedit", AlphaEditHparams, apply, needs=frozenset({Need.STATISTICS, Need.PRESERVED}),
                    sequential_state=KeyCache)

__all__ = ["METHOD", "AlphaEditHparams", "KeyCache", "NullSpace", "alphaedit_update", "apply", "null_space"]
