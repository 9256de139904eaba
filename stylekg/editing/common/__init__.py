"""Code shared by ROME, MEMIT and AlphaEdit: request tokenisation, context prefixes, keys, values."""

from .keys import compute_keys, current_outputs, read_at_lookup
from .layers import check_layers, mlp_out_param, ridge, weight_out_in
from .prompts import ContextPrefixes, context_prefixes, objective_target, prompt_ids, validate_requests
from .values import ValueSettings, optimise_deltas

__all__ = [
    "ContextPrefixes",
    "ValueSettings",
    "check_layers",
    "compute_keys",
    "context_prefixes",
    "current_outputs",
    "mlp_out_param",
    "objective_target",
    "optimise_deltas",
    "prompt_ids",
    "read_at_lookup",
    "ridge",
    "validate_requests",
    "weight_out_in",
]
