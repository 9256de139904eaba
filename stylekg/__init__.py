"""stylekg: edit styles inside transformer language models through knowledge graphs.

The Python front door (:mod:`stylekg.api`), imported on first use so that ``import stylekg`` stays fast::

    import stylekg
    lm = stylekg.load_model("smollm2-135m")
    plan = stylekg.plan("Yoda", mode="erase")
    result = stylekg.edit(lm, plan, method="memit")
    result.restore()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "edit", "load_graph", "load_model", "measure_style", "plan", "run"]
_API = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from .api import edit, load_graph, load_model, measure_style, plan, run


def __getattr__(name: str) -> Any:
    """The front door's functions, imported from :mod:`stylekg.api` on first use (PEP 562)."""
    if name in _API:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stylekg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
