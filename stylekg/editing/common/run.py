"""Edit-and-measure: apply a method, score the requests before and after, and any subclass probes.

Used by ``stylekg edit``; the metrics come from :func:`stylekg.evaluation.counterfact.evaluate_requests`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import EditError
from ...requests import EditRequest
from ..hparams import default_hparams_path, load_hparams
from ..registry import Method, get_method
from ..result import EditResult

log = logging.getLogger(__name__)


def method_and_hparams(method: str, model: str, path: str | Path | None = None, **overrides: Any) -> tuple[Method, Any]:
    """The registered method and its hyper-parameters (``configs/<method>/<model>.toml`` by default)."""
    m = get_method(method)
    if path is None:
        path = default_hparams_path(method, Path(model).name)
        if not Path(path).exists():
            raise EditError(
                f"no hyper-parameters for {method} on {model!r} ({path} is missing)",
                hint="pass --hparams FILE.toml (copy configs/<method>/smollm2-135m.toml as a start)",
            )
    hparams = load_hparams(m.hparams_class, path)
    known = {f.name for f in dataclasses.fields(hparams)}
    changes = {k: v for k, v in overrides.items() if v is not None and k in known}
    return m, dataclasses.replace(hparams, **changes) if changes else hparams


def measure(lm, requests: list[EditRequest]) -> dict[str, Any]:
    """CounterFact metrics of ``requests`` on the model as it is now (no generations)."""
    from ...evaluation.counterfact import evaluate_requests

    return evaluate_requests(lm, requests)


@dataclass
class EditOutcome:
    result: EditResult
    before: dict[str, Any]
    after: dict[str, Any]
    probes_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    probes_after: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.result.method,
            "n_requests": len(self.result.requests),
            "before": self.before["summary"],
            "after": self.after["summary"],
            "params_changed": self.result.params_changed,
            "layers": self.result.info.get("layers"),
            "seconds": self.seconds,
            "subclasses": {
                sid: {"before": self.probes_before[sid]["summary"], "after": self.probes_after[sid]["summary"]}
                for sid in self.probes_after
            },
        }


def edit_and_measure(
    lm,
    method: Method,
    requests: list[EditRequest],
    hparams: Any,
    *,
    probes: dict[str, list[EditRequest]] | None = None,
    corpus=None,
    keep: bool = True,
) -> EditOutcome:
    """Measure, edit, measure again (``probes``: extra request sets measured but not edited).

    With ``keep=False`` the model is restored before returning.
    """
    probes = probes or {}
    t0 = time.perf_counter()
    before = measure(lm, requests)
    probes_before = {sid: measure(lm, reqs) for sid, reqs in probes.items()}
    t1 = time.perf_counter()
    kwargs = {"corpus": corpus} if corpus else {}
    result = method.apply(lm.model, lm.tokenizer, requests, hparams, **kwargs)
    t2 = time.perf_counter()
    try:
        after = measure(lm, requests)
        probes_after = {sid: measure(lm, reqs) for sid, reqs in probes.items()}
    except BaseException:
        result.restore()
        raise
    t3 = time.perf_counter()
    if not keep:
        result.restore()
    seconds = {"measure_before": t1 - t0, "edit": t2 - t1, "measure_after": t3 - t2}
    return EditOutcome(result, before, after, probes_before, probes_after, seconds)
