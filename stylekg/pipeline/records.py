"""Every :class:`~stylekg.kg.schema.RunRecord` is built here: results in, a record for the store out.

One record is one ``Run`` node with a ``MEASURED`` edge per measured graph target. The builders take typed
results (style rows, a trace, an evaluation report, a comparison row) and all go through :func:`new_record`,
so ids, timestamps, versions and metric filtering follow one rule.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..kg.schema import RunRecord, TargetMetrics, slug
from ..paths import sha256_text
from ..run_summary import StyleRow

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluation.results import EvalReport
    from ..tracing.result import TraceResult


def now() -> str:
    """The current UTC time, ISO-8601 to the second (every record's ``created``)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def content_id(prefix: str, payload: Any) -> str:
    """A run id that changes whenever ``payload`` does: ``run:<prefix>:<8 hex>``."""
    return f"run:{prefix}:{sha256_text(json.dumps(payload, sort_keys=True, default=str))[:8]}"


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric, finite entries of ``metrics`` as floats (a store cannot hold NaN or None)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def new_record(*, kind: str, method: str, model: str, graph: str, targets: Iterable[TargetMetrics],
               params: Mapping[str, Any] | None = None, hparams_hash: str = "", run_id: str | None = None,
               created: str | None = None) -> RunRecord:
    """The one constructor: a fresh id unless given, now unless given, this stylekg version."""
    return RunRecord(
        id=run_id or f"run:{kind}-{uuid.uuid4().hex[:12]}", kind=kind, method=method, model=model, graph=graph,
        hparams_hash=hparams_hash, created=created or now(), version=__version__, status="ok",
        params=dict(params or {}), targets=list(targets),
    )


def style_targets(rows: Sequence[StyleRow], known: Container[str] | None = None) -> list[TargetMetrics]:
    """One target per style row (rows whose node the graph lacks are left out when ``known`` is given)."""
    return [TargetMetrics(r.node_id, finite_metrics(r.metrics), role=r.role)
            for r in rows if known is None or r.node_id in known]


def effect_targets(effects: Mapping[str, Any] | None, known: Container[str] | None = None) -> list[TargetMetrics]:
    """One target per audited graph node of a run's ``effects`` section (``pipeline/effects_stage.py``): a style,
    trait, marker or neutral form with its ``effect_*`` metrics, under its owning style's role."""
    rows = (effects or {}).get("rows") or []
    return [TargetMetrics(r["node_id"], finite_metrics(r["metrics"]), role=r.get("role") or "measured")
            for r in rows if known is None or r["node_id"] in known]


def edit_record(*, run_id: str, method: str, model: str, graph: str, rows: Sequence[StyleRow],
                params: Mapping[str, Any], hparams_hash: str, created: str,
                known: Container[str] | None = None, extra_targets: Sequence[TargetMetrics] = ()) -> RunRecord:
    """An edit run of ``stylekg run`` (or ``--auto``) with metrics per measured style; its id changes whenever
    the measured numbers do, so a resumed run writes nothing twice. ``extra_targets`` (the audit's nodes) are
    merged into the style targets of the same node."""
    targets = style_targets(rows, known)
    by_id = {t.target_id: t for t in targets}
    for extra in extra_targets:
        if extra.target_id in by_id:
            by_id[extra.target_id].metrics.update(extra.metrics)
        else:
            by_id[extra.target_id] = extra
            targets.append(extra)
    payload: list[Any] = [dict(r.__dict__) for r in rows]
    payload += [[t.target_id, t.role, t.metrics] for t in extra_targets]
    return new_record(kind="edit", method=method, model=model, graph=graph, targets=targets,
                      params=params, hparams_hash=hparams_hash, run_id=content_id(run_id, payload), created=created)


def trace_record(result: "TraceResult", *, graph: str, target_ids: Sequence[str], run_id: str | None = None,
                 label: str | None = None, role: str = "traced") -> RunRecord:
    """A ``trace`` annotation run: the trace's peak metrics on each graph target."""
    metrics = result.metrics()
    params = {**result.params.to_dict(), "prompt": result.prompt, "subject": result.subject,
              "target": result.target, "noise_std": result.noise_std}
    if label is not None:
        params["label"] = label
    return new_record(kind="trace", method=f"causal-trace-{result.algorithm}", model=result.model, graph=graph,
                      targets=[TargetMetrics(t, dict(metrics), role=role) for t in target_ids], params=params,
                      hparams_hash=result.params.digest(), run_id=run_id)


def eval_record(report: "EvalReport", *, graph: str = "", method: str = "none", kind: str = "eval",
                run_id: str | None = None, roles: Mapping[str, str] | None = None,
                extra_targets: Sequence[TargetMetrics] = (), params: Mapping[str, Any] | None = None,
                hparams_hash: str = "") -> RunRecord:
    """One target per evaluated edge (``roles`` maps an edge id to its role; otherwise the case's own).

    Cases without an ``edge_id`` cannot be attached to the graph and are summarised only in ``params``.
    """
    roles = roles or {}
    targets: dict[tuple[str, str], dict[str, float]] = {}
    for case in report.cases:
        if case.edge_id:
            role = roles.get(case.edge_id, case.role)
            targets.setdefault((case.edge_id, role), {}).update(finite_metrics(case.metrics.as_dict(drop_none=True)))
    return new_record(
        kind=kind, method=method, model=report.model, graph=graph, hparams_hash=hparams_hash, run_id=run_id,
        params={**dict(params or {}), "summary": report.summary.as_dict(drop_none=True), "n_cases": len(report.cases)},
        targets=[TargetMetrics(t, m, role) for (t, role), m in targets.items()] + list(extra_targets),
    )


def propagation_record(*, method: str, model: str, graph: str, parent_id: str, mode: str,
                       edited: Mapping[str, Mapping[str, float]], subclasses: Mapping[str, Mapping[str, float]],
                       hparams_hash: str = "") -> RunRecord:
    """An edit of an abstract parent: metrics of the edited node(s) and of every measured subclass."""
    from ..errors import EditError
    from ..requests import Propagation

    if mode not in (Propagation.EXPLICIT, Propagation.IMPLICIT):
        raise EditError(f"unknown propagation mode {mode!r}", hint="use explicit or implicit")
    mode = Propagation(mode).value
    targets = [TargetMetrics(t, finite_metrics(m), role="edited") for t, m in edited.items()]
    targets += [TargetMetrics(t, finite_metrics(m), role="subclass") for t, m in subclasses.items()]
    return new_record(kind="edit", method=method, model=model, graph=graph, targets=targets,
                      params={"parent": parent_id, "propagate": mode}, hparams_hash=hparams_hash)


def compare_records(*, style: str, style_id: str, model: str, graph: str, created: str,
                    rows: Sequence[Mapping[str, Any]]) -> list[RunRecord]:
    """One ``eval`` run per compared method (failed methods are left out), stamped with the comparison's time."""
    stamp = slug(created)
    out = []
    for row in rows:
        if row.get("error"):
            continue
        metrics = finite_metrics(row["metrics"])
        metrics.update(seconds=float(row["seconds"]), params_changed=float(row["params_changed"]))
        out.append(new_record(kind="eval", method=row["method"], model=model, graph=graph, created=created,
                              run_id=f"run:compare:{slug(style)}:{row['method']}:{stamp}",
                              params={"compare": True, "style": style}, targets=[TargetMetrics(style_id, metrics)]))
    return out
