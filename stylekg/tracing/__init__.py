"""Causal tracing (Meng et al., 2022, "Locating and Editing Factual Associations in GPT", §2.1).

Where does a fact, or a whole style, live inside a model? Corrupt the subject's embeddings with
Gaussian noise, restore one clean hidden state at a time and measure how much of the clean
answer's score comes back. :func:`trace` is the fast algorithm (shared corrupted prefix, only the
affected suffix recomputed); :func:`naive_trace` is the reference algorithm, one batched forward
per restored site, kept for verification and benchmarks.
"""

from .params import KINDS, TraceParams
from .result import TraceResult
from .targets import (
    ContinuationTarget,
    MarkerSetTarget,
    StyleScoreTarget,
    Target,
    make_target,
    style_target,
)
from .trace import trace
from .naive import naive_trace

__all__ = [
    "KINDS",
    "ContinuationTarget",
    "MarkerSetTarget",
    "StyleScoreTarget",
    "Target",
    "TraceParams",
    "TraceResult",
    "make_target",
    "naive_trace",
    "style_target",
    "trace",
]
