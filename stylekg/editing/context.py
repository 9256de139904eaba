"""What an editing method may use besides the model and its requests: the one method contract.

Every method is ``apply(model, tokenizer, requests, hparams, context) -> EditResult``. ``context`` carries
what some methods need and others ignore: key statistics (ROME, MEMIT, AlphaEdit), a statistics corpus, the
style's material (fine-tuning, steering), AlphaEdit's key cache for sequential edits, and the *preserved set*:
prompts with their own answers that the edit must keep (built from the graph or the model's probed facts by
the planner, never from judged data). An empty preserved set gives the plain reference method. The caller
builds the context; a method reads the fields it needs and says clearly when one it needs is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..material import StyleMaterial
from ..requests import Preserved


@dataclass
class EditContext:
    """Inputs shared by the methods (all optional; a method names the one it lacks)."""

    stats: dict[int, torch.Tensor] | None = None  # layer → C = E[k k^T] of the unedited model
    corpus: Sequence[str] | None = None  # local text files for the key statistics (default: generated text)
    material: StyleMaterial | None = None  # the style's markers, texts and persona prompts
    key_cache: Any = None  # AlphaEdit's KeyCache: earlier edits' keys, for sequential editing
    preserved: tuple[Preserved, ...] = ()  # what the edit must keep (graph-guarded editing); () = plain method
