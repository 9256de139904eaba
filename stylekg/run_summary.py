"""What a run found, typed: the :class:`RunSummary` that the pipeline, the auto job, write-back and the report share.

It is written once, as ``summary.json`` in the run directory (:meth:`RunSummary.to_dict`), and read back with
:meth:`RunSummary.from_dict`; every section a run may lack is ``None`` or empty, so the report skips it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _pick(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` that are fields of dataclass ``cls`` (older or partial summaries read too)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


class Record:
    """A dataclass that is written as JSON: ``to_dict`` and ``from_dict`` (unknown keys are ignored)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        return cls(**_pick(cls, data))


@dataclass
class StyleRow(Record):
    """One measured style: its role in the run and its marker numbers before and after."""

    node_id: str
    name: str
    role: str  # edited | subclass | unrelated
    presence_before: float | None = None  # mean log P(marker) on its own prompts
    presence_after: float | None = None
    marker_rate_before: float | None = None  # share of its marker edges it holds
    marker_rate_after: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)



@dataclass
class GenerationPair(Record):
    """One prompt's generation before and after the edit."""

    prompt: str
    before: str = ""
    after: str = ""



@dataclass
class TraceSummary(Record):
    """One causal trace of the run: its heat-map files and its MLP peak."""

    label: str
    kind: str = ""
    prompt: str = ""
    png: str | None = None  # relative to the run directory
    svg: str | None = None
    peak_layer: int | None = None
    peak_token: int | None = None
    peak_effect: float | None = None
    high: float | None = None
    low: float | None = None



@dataclass
class CypherAnswer(Record):
    """A Cypher query behind a report table, with its parameters and the rows the store answered."""

    title: str
    query: str
    params: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)



@dataclass
class RunSummary(Record):
    """Everything one run found (``stylekg run`` or ``stylekg run --auto``)."""

    run_id: str
    created: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)  # name, nodes, edges, source
    edited_node: dict[str, str] | None = None  # id, name, type
    presence: dict[str, Any] | None = None  # PresenceReport.to_dict()
    install: dict[str, Any] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)  # CounterFact records with meta
    metrics: dict[str, dict[str, Any]] | None = None  # {"before": EditMetrics dict, "after": ...}
    styles: list[StyleRow] = field(default_factory=list)
    generations: list[GenerationPair] = field(default_factory=list)
    traces: list[TraceSummary] = field(default_factory=list)
    layers: dict[str, Any] | None = None
    edit: dict[str, Any] | None = None
    cypher: list[CypherAnswer] = field(default_factory=list)
    graph_html: str | None = None
    auto: dict[str, Any] | None = None  # --auto: the expansion and the skipped styles
    modified: list[dict[str, Any]] = field(default_factory=list)  # --auto: each modified edge, before and after
    generation: dict[str, Any] | None = None  # the style in held-out answers before/after (runs with a prompt set)
    effects: dict[str, Any] | None = None  # every measured node's change, per marker (pipeline/effects_stage.py)
    run_record: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunSummary":
        if not data.get("run_id"):
            raise ValueError("a run summary needs a run_id")
        values = _pick(cls, data)
        values["styles"] = [StyleRow.from_dict(s) for s in data.get("styles") or []]
        values["generations"] = [GenerationPair.from_dict(g) for g in data.get("generations") or []]
        values["traces"] = [TraceSummary.from_dict(t) for t in data.get("traces") or []]
        values["cypher"] = [CypherAnswer.from_dict(q) for q in data.get("cypher") or []]
        return cls(**values)
