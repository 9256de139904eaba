"""The model of one job: loaded once, edits applied from their delta files, key statistics of the unedited weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..editing import EditResult
from ..editing.common.hparams import ValueHparams
from ..editing.context import EditContext
from ..editing.registry import Method
from ..material import StyleMaterial
from ..requests import EditRequest


class ModelSession:
    """A lazily loaded model with the edits of a run re-applied from delta files (so a resumed run has them)."""

    def __init__(self, model: str, device: str = "cpu", dtype: str = "float32") -> None:
        self.model_name, self.device, self.dtype = model, device, dtype
        self._lm: Any = None
        self._stats: dict[int, Any] | None = None
        self.applied: dict[Path, EditResult] = {}  # delta file → the edit it re-applied

    @property
    def lm(self) -> Any:
        if self._lm is None:
            from ..lm import load_model

            self._lm = load_model(self.model_name, device=self.device, dtype=self.dtype)
        return self._lm

    def reapply(self, path: Path) -> bool:
        """Apply a saved delta file once (no-op when it is missing or already applied); True if applied now."""
        path = Path(path)
        if not path.exists() or path in self.applied:
            return False
        self.applied[path] = EditResult.load_and_apply(path, self.lm.model)
        return True

    def context(self, hparams: Any) -> EditContext | None:
        """What a method needs besides its requests: for closed-form editors (hparams with key statistics), the
        second moments of the *unedited* model's keys, computed once per job as MEMIT's reference does, so an
        install edit does not shift C for the erase that follows."""
        if not isinstance(hparams, ValueHparams):
            return None
        if self._stats is None:
            import torch

            from ..editing.stats import key_second_moments

            layers = list(getattr(hparams, "layers", None) or [getattr(hparams, "layer")])
            for result in reversed(list(self.applied.values())):  # measure the original weights ...
                result.restore()
            try:
                self._stats = key_second_moments(self.lm.model, self.lm.tokenizer, layers,
                                                 samples=hparams.stats_samples,
                                                 dtype=getattr(torch, hparams.stats_dtype))
            finally:  # ... then put the edits back
                for path in list(self.applied):
                    self.applied[path] = EditResult.load_and_apply(path, self.lm.model)
        return EditContext(stats=self._stats)

    def edit(self, method: Method, hparams: Any, requests: list[EditRequest], delta: Path,
             material: StyleMaterial | None = None) -> EditResult:
        """Apply ``method`` and save its delta file; the edit stays applied until the caller restores it
        (:meth:`reapply` of the delta file puts it back later, exactly as a resumed run does)."""
        context = self.context(hparams)
        if material is not None:
            context = dataclasses.replace(context or EditContext(), material=material)
        result = method.apply(self.lm.model, self.lm.tokenizer, requests, hparams, context)
        result.save(delta)
        return result
