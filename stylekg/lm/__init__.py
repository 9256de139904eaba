"""Models, the architecture table and the hook utility. Imports nothing else of stylekg."""

from .architectures import ARCHITECTURES, Architecture, WeightLayout, architecture_of, get_module
from .errors import (
    CacheCorruptError,
    MissingPackageError,
    ModelError,
    UnknownModelError,
    UnsupportedArchitectureError,
)
from .hooks import StopForward, Trace, TraceDict, hook_count, output_tensor, replace_output_tensor
from .loading import LoadedModel, load_model, prepare, resolve_device
from .placement import DTYPES, dispatch, input_device, resolve_dtype, weight_tensor
from .registry import REGISTRY, ModelSpec, Source

__all__ = [
    "ARCHITECTURES", "Architecture", "WeightLayout", "architecture_of", "get_module",
    "CacheCorruptError", "MissingPackageError", "ModelError", "UnknownModelError",
    "UnsupportedArchitectureError", "StopForward", "Trace", "TraceDict", "hook_count",
    "output_tensor", "replace_output_tensor", "LoadedModel", "load_model", "prepare",
    "resolve_device", "REGISTRY", "ModelSpec", "Source", "DTYPES", "dispatch", "input_device", "resolve_dtype",
    "weight_tensor",
]
