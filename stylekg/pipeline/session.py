"""The model of one job: loaded once, edits applied from their delta files, key statistics of the unedited weights."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..editing import EditResult
from ..editing.context import EditContext
from ..editing.registry import MethodSpec, Need
from ..editing.stats import KeyStatistics
from ..material import StyleMaterial
from ..requests import EditRequest, Preserved


class ModelSession:
    """A lazily loaded model with the edits of a run re-applied from delta files (so a resumed run has them)."""

    def __init__(self, model: str, device: str = "cpu", dtype: str = "float32") -> None:
        self.model_name, self.device, self.dtype = model, device, dtype
        self._lm: Any = None
        self._stats: dict[tuple[int, str], KeyStatistics] = {}  # (samples, dtype) → statistics of the unedited model
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

    @contextmanager
    def unedited(self) -> Iterator[None]:
        """The model without the edits re-applied from delta files (restored exactly, then put back)."""
        for result in reversed(list(self.applied.values())):
            result.restore()
        try:
            yield
        finally:
            for path in list(self.applied):
                self.applied[path] = EditResult.load_and_apply(path, self.lm.model)

    def context(self, method: MethodSpec, hparams: Any) -> EditContext | None:
        """What ``method`` needs besides its requests. Key statistics (``Need.STATISTICS``) are those of the
        *unedited* model, as MEMIT's reference computes them: one lazy provider per job and setting, measuring
        each layer once with the job's applied edits taken off, so an install edit does not shift C for the
        erase that follows."""
        if Need.STATISTICS not in method.needs:
            return None
        key = (hparams.stats_samples, hparams.stats_dtype)
        if key not in self._stats:
            self._stats[key] = KeyStatistics.for_hparams(self.lm.model, self.lm.tokenizer, hparams,
                                                         around=self.unedited)
        return EditContext(stats=self._stats[key])

    def edit(self, method: MethodSpec, hparams: Any, requests: list[EditRequest], delta: Path,
             material: StyleMaterial | None = None, preserved: tuple[Preserved, ...] = ()) -> EditResult:
        """Apply ``method`` and save its delta file; the edit stays applied until the caller restores it
        (:meth:`reapply` of the delta file puts it back later, exactly as a resumed run does). ``preserved``: the
        plan's preserved set (empty: the plain method)."""
        context = self.context(method, hparams)
        if material is not None:
            context = dataclasses.replace(context or EditContext(), material=material)
        if preserved:
            context = dataclasses.replace(context or EditContext(), preserved=tuple(preserved))
        result = method.apply(self.lm.model, self.lm.tokenizer, requests, hparams, context)
        result.save(delta)
        return result
