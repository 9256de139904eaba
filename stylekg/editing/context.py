"""What an editing method may use besides the model and its requests: the one method contract.

Every method is ``apply(model, tokenizer, requests, hparams, context) -> EditResult``. ``context`` carries
what some methods need and others ignore: key statistics (ROME, MEMIT, AlphaEdit), a statistics corpus, the
style's material (fine-tuning, steering), AlphaEdit's key cache for sequential edits, and the *preserved set*:
prompts with their own answers that the edit must keep (built from the graph or the model's probed facts by
the planner, never from judged data). An empty preserved set gives the plain reference method. The caller
builds the context; a method reads the fields it needs (declared as its spec's ``needs``,
:class:`stylekg.editing.registry.Need`) and says clearly when one it needs is missing. Key statistics always
come through one lazy provider, :class:`stylekg.editing.stats.KeyStatistics` (:meth:`EditContext.key_statistics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import EditError
from ..material import StyleMaterial
from ..requests import Preserved
from .stats import KeyStatistics, StatisticsHparams


@dataclass
class EditContext:
    """Inputs shared by the methods (all optional; a method names the one it lacks)."""

    # C = E[k k^T] of the unedited model per layer: a KeyStatistics provider, or a plain {layer: C} mapping
    # (wrapped in one; layers it lacks are measured from ``corpus`` with the method's settings)
    stats: KeyStatistics | Mapping[int, torch.Tensor] | None = None
    corpus: Sequence[str] | None = None  # local text files for the key statistics (default: corpora.py)
    material: StyleMaterial | None = None  # the style's markers, texts and persona prompts
    key_cache: Any = None  # state carried across sequential applies (MethodSpec.sequential_state: AlphaEdit's KeyCache)
    preserved: tuple[Preserved, ...] = ()  # what the edit must keep (graph-guarded editing); () = plain method

    def __post_init__(self) -> None:
        if self.stats is not None and not isinstance(self.stats, KeyStatistics):
            self.stats = KeyStatistics(known=self.stats)

    def key_statistics(self, model: torch.nn.Module, tokenizer, hparams: StatisticsHparams) -> KeyStatistics:
        """The statistics a method reads for ``model``: the context's provider when it was built for this model;
        otherwise one that starts from the given layers and measures the others from ``corpus`` with the
        method's ``stats_samples`` / ``stats_dtype``."""
        given = self.stats if isinstance(self.stats, KeyStatistics) else None
        if given is not None and given.model is not None:
            if given.model is not model:
                raise EditError("context.stats was built for another model",
                                hint="build KeyStatistics(model, tokenizer, ...) with the model being edited")
            return given
        return KeyStatistics.for_hparams(model, tokenizer, hparams, corpus=self.corpus,
                                         known=given.known() if given is not None else None)


def key_statistics(context: EditContext | None, model: torch.nn.Module, tokenizer,
                   hparams: StatisticsHparams) -> KeyStatistics:
    """:meth:`EditContext.key_statistics` of ``context`` (of an empty one when ``None``)."""
    return (context or EditContext()).key_statistics(model, tokenizer, hparams)
