"""Typed evaluation results with fixed metric names, JSON (de)serialisation and graph run records.

Metric names are fixed (:data:`METRIC_NAMES`) so every method, the CLI and the graph agree.
Scores are fractions in [0, 1] (the reference's summaries print them ×100); a metric that cannot
be computed for a case (no paraphrase prompts, no ``target_true`` for an insert...) is ``None``
and left out of the averages, never counted as 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..paths import atomic_write_text



@dataclass
class EditMetrics:
    """CounterFact metrics of one case or, averaged over cases, of a whole evaluation."""

    efficacy_score: float | None = None  # mean [P(new) > P(true)] on the rewrite prompt
    efficacy_magnitude: float | None = None  # mean P(new) - P(true), P = exp(-mean token NLL)
    paraphrase_score: float | None = None
    paraphrase_magnitude: float | None = None
    neighborhood_score: float | None = None  # mean [P(true) > P(new)] on other subjects' prompts
    neighborhood_magnitude: float | None = None  # mean P(true) - P(new)
    alias_score: float | None = None  # like paraphrase, on the subject's aliases/misspellings
    alias_magnitude: float | None = None
    efficacy_top1: float | None = None  # greedy decoding writes target_new (every token argmax)
    paraphrase_top1: float | None = None
    neighborhood_top1: float | None = None  # greedy decoding still writes target_true
    alias_top1: float | None = None
    prob_new: float | None = None  # mean P(new) on the rewrite prompt
    prob_true: float | None = None  # mean P(true) on the rewrite prompt (erasure lowers it)
    fluency: float | None = None  # weighted bi/tri-gram entropy of generations (bits)
    consistency: float | None = None  # TF-IDF cosine of generations vs reference text
    score: float | None = None  # harmonic mean of efficacy, paraphrase and neighborhood scores
    efficacy_generation: float | None = None  # greedy generation from the rewrite prompt contains target_new
    paraphrase_generation: float | None = None  # the same from the paraphrase prompts
    neighbours_own_top1: float | None = None  # neighbour prompts whose own answer is the greedy continuation
    neighbours_own_prob: float | None = None  # mean P(own answer) on neighbour prompts
    neighbours_kept: float | None = None  # vs the unedited model: own answer still top-1 and P >= half of before

    def as_dict(self, *, drop_none: bool = False) -> dict[str, float | None]:
        out = asdict(self)
        return {k: v for k, v in out.items() if v is not None} if drop_none else out


METRIC_NAMES: tuple[str, ...] = tuple(f.name for f in fields(EditMetrics))


@dataclass
class PromptRecord:
    """One scored prompt: its group (rewrite/paraphrase/neighborhood/alias) and both NLLs.

    A neighbour with its own answer (``stylekg.requests.Neighbour``) has ``target`` and its ``nll_own`` /
    ``own_top1``; for a plain neighbourhood prompt its own answer is ``target_true``. ``generated`` is the
    greedy continuation of rewrite and paraphrase prompts.
    """

    group: str
    prompt: str
    nll_new: float | None
    nll_true: float | None
    new_top1: bool | None
    true_top1: bool | None
    target: str | None = None
    nll_own: float | None = None
    own_top1: bool | None = None
    generated: str | None = None


@dataclass
class CaseMetrics:
    case_id: str
    subject: str
    kind: str
    edge_id: str | None
    metrics: EditMetrics
    prompts: list[PromptRecord] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)
    role: str = "edited"


@dataclass
class EvalReport:
    """Per-case metrics and their summary (the mean of each metric over the cases that have it)."""

    model: str
    summary: EditMetrics
    cases: list[CaseMetrics]
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_cases": len(self.cases),
            "summary": self.summary.as_dict(),
            "cases": [asdict(c) for c in self.cases],
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvalReport":
        cases = [
            CaseMetrics(
                **{k: v for k, v in c.items() if k not in ("metrics", "prompts")},
                metrics=EditMetrics(**c["metrics"]),
                prompts=[PromptRecord(**p) for p in c.get("prompts", [])],
            )
            for c in data.get("cases", [])
        ]
        return cls(data["model"], EditMetrics(**data["summary"]), cases, dict(data.get("params", {})))

    def save(self, out_dir: str | Path, prefix: str = "") -> dict[str, Path]:
        """Write ``{prefix}summary.json`` and ``{prefix}cases.json`` into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        paths = {"summary": out / f"{prefix}summary.json", "cases": out / f"{prefix}cases.json"}
        summary = {k: data[k] for k in ("model", "n_cases", "summary", "params")}
        atomic_write_text(paths["summary"], json.dumps(summary, indent=2, default=str))
        atomic_write_text(paths["cases"], json.dumps(data["cases"], indent=2, default=str))
        return paths


def summarize(cases: Sequence[EditMetrics]) -> EditMetrics:
    """Mean of each metric over the cases where it is defined; ``score`` as MEMIT's summary.

    The reference's headline "Score" is the harmonic mean of efficacy, paraphrase and
    neighbourhood success (MEMIT ``summarize.py``); it is ``None`` unless all three exist.
    """
    out = EditMetrics()
    for name in METRIC_NAMES:
        if name == "score":
            continue
        values = [getattr(c, name) for c in cases if getattr(c, name) is not None]
        setattr(out, name, float(sum(values) / len(values)) if values else None)
    out.score = harmonic_mean([out.efficacy_score, out.paraphrase_score, out.neighborhood_score])
    return out


def harmonic_mean(values: Sequence[float | None]) -> float | None:
    if any(v is None for v in values) or not values:
        return None
    if any(v == 0 for v in values):  # type: ignore[operator]
        return 0.0
    return float(len(values) / sum(1.0 / v for v in values))  # type: ignore[operator]


def compare(before: EvalReport | EditMetrics, after: EvalReport | EditMetrics) -> dict[str, dict[str, float | None]]:
    """``{metric: {before, after, delta}}`` for every fixed metric name."""
    b = before.summary if isinstance(before, EvalReport) else before
    a = after.summary if isinstance(after, EvalReport) else after
    out = {}
    for name in METRIC_NAMES:
        vb, va = getattr(b, name), getattr(a, name)
        delta = va - vb if va is not None and vb is not None else None
        out[name] = {"before": vb, "after": va, "delta": delta}
    return out
