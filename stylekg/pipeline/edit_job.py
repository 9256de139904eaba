"""The ``stylekg edit`` job: requests from a CounterFact file or a graph node, edit, measure before and after.

The method and its hyper-parameters come from :func:`stylekg.editing.hparams_files.load_method`; the metrics from
:func:`stylekg.evaluation.counterfact.evaluate`, kept as typed :class:`~stylekg.evaluation.results.EvalReport`\\ s
until they are written.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..editing.context import EditContext
from ..editing.registry import Method
from ..editing.result import EditResult
from ..evaluation.results import EvalReport
from ..kg.graph import StyleGraph
from ..kg.planner import EditPlan
from ..paths import atomic_write_text
from ..requests import EditRequest

log = logging.getLogger(__name__)


def measure(lm: Any, requests: list[EditRequest], baseline: EvalReport | None = None) -> EvalReport:
    """CounterFact metrics of ``requests`` on the model as it is now (no sampled generations); ``baseline``
    (the unedited model's report) adds ``neighbours_kept``."""
    from ..evaluation.counterfact import evaluate

    return evaluate(lm, requests, baseline=baseline)


@dataclass
class EditOutcome:
    result: EditResult
    before: EvalReport
    after: EvalReport
    probes_before: dict[str, EvalReport] = field(default_factory=dict)
    probes_after: dict[str, EvalReport] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.result.method,
            "n_requests": len(self.result.requests),
            "before": self.before.summary.as_dict(),
            "after": self.after.summary.as_dict(),
            "params_changed": self.result.params_changed,
            "layers": self.result.info.get("layers"),
            "seconds": self.seconds,
            "subclasses": {sid: {"before": self.probes_before[sid].summary.as_dict(),
                                 "after": self.probes_after[sid].summary.as_dict()} for sid in self.probes_after},
        }


def edit_and_measure(lm: Any, method: Method, requests: list[EditRequest], hparams: Any, *,
                     probes: dict[str, list[EditRequest]] | None = None, context: EditContext | None = None,
                     keep: bool = True, sequential_batch: int | None = None) -> EditOutcome:
    """Measure, edit, measure again (``probes``: extra request sets measured but not edited).

    ``context`` goes to the method as it is. With ``keep=False`` the model is restored before returning.
    ``sequential_batch``: apply the requests that many at a time, each batch on the edited model
    (:func:`stylekg.editing.sequential.apply_sequentially`).
    """
    probes = probes or {}
    t0 = time.perf_counter()
    before = measure(lm, requests)
    probes_before = {sid: measure(lm, reqs) for sid, reqs in probes.items()}
    t1 = time.perf_counter()
    if sequential_batch is not None:  # batches one after another on the edited model
        from ..editing.sequential import apply_sequentially

        result = apply_sequentially(method.name, method.apply, lm.model, lm.tokenizer, requests, hparams,
                                    sequential_batch, context)
    else:
        result = method.apply(lm.model, lm.tokenizer, requests, hparams, context)
    t2 = time.perf_counter()
    try:
        after = measure(lm, requests, baseline=before)
        probes_after = {sid: measure(lm, reqs, baseline=probes_before[sid]) for sid, reqs in probes.items()}
    except BaseException:
        result.restore()
        raise
    t3 = time.perf_counter()
    if not keep:
        result.restore()
    seconds = {"measure_before": t1 - t0, "edit": t2 - t1, "measure_after": t3 - t2}
    return EditOutcome(result, before, after, probes_before, probes_after, seconds)


@dataclass
class GraphRequests:
    """The plan of an edit of a graph node (:class:`stylekg.kg.planner.EditPlan`) and where its graph came from."""

    graph: StyleGraph
    plan: EditPlan
    from_store: bool

    @property
    def requests(self) -> list[EditRequest]:
        return self.plan.requests

    @property
    def probes(self) -> dict[str, list[EditRequest]]:
        return self.plan.probes


def load_graph_ref(graph_ref: str, store: str | None) -> tuple[StyleGraph, bool]:
    """(the graph, whether it came from the store): a graph file, else a graph stored in ``store``."""
    path = Path(graph_ref)
    if path.exists():
        from ..kg.io import load_graph

        return load_graph(path), False
    from ..kg.stores import open_store

    with open_store(store) as opened:
        return opened.load_graph(graph_ref), True


def graph_requests(graph_ref: str, store: str | None, node: str, mode: str, new: str | None, relation: str | None,
                   propagate: str | None, *, inherited: bool = False) -> GraphRequests:
    """What ``stylekg edit --graph`` edits: the plan of ``node`` in a graph file or a stored graph, from
    :func:`stylekg.kg.planner.plan` with its default selection (every edge of ``node``; with ``propagate``, an
    abstract parent's own edges copied to (``explicit``) or measured on (``implicit``) every inheriting subclass).
    ``stylekg kg requests`` with the same flags prints the same plan."""
    from ..kg.planner import plan

    graph, from_store = load_graph_ref(graph_ref, store)
    return GraphRequests(graph, plan(graph, node, mode=mode, propagate=propagate, new_target=new,
                                     relation_template=relation, inherited=inherited), from_store)


def write_outcome(outcome: EditOutcome, out: Path, summary: dict[str, Any]) -> None:
    """``summary.json``, ``cases.json`` and the delta file ``edit.safetensors`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
    cases = {"before": outcome.before.to_dict()["cases"], "after": outcome.after.to_dict()["cases"]}
    atomic_write_text(out / "cases.json", json.dumps(cases, indent=2, default=str))
    outcome.result.save(out / "edit.safetensors")


def propagation_effects(outcome: EditOutcome, requests: list[EditRequest]) -> tuple[dict, dict]:
    """(edited subject id → its case metrics, subclass id → its probes' summary) for a propagation record."""
    edited = {r.subject_id or r.subject: c.metrics.as_dict(drop_none=True)
              for r, c in zip(requests, outcome.after.cases)}
    subclasses = {sid: report.summary.as_dict(drop_none=True) for sid, report in outcome.probes_after.items()}
    return edited, subclasses
