"""CounterFact metrics as the ROME/MEMIT reference computes them (``eval_utils_counterfact.py``).

For each prompt ``x`` and target ``o`` the reference keeps the per-token averaged NLL
``L(o|x) = -1/|o| Σ_j log P(o_j | x, o_<j)`` of ``target_new`` and ``target_true``. Then
(``summarize.py``), per case:

- efficacy / paraphrase / alias score = mean over prompts of ``[L(new) < L(true)]``;
  magnitude = mean of ``exp(-L(new)) - exp(-L(true))``;
- neighbourhood score = mean of ``[L(true) < L(new)]`` (the truth is kept on other subjects);
  magnitude = mean of ``exp(-L(true)) - exp(-L(new))``;
- top-1 (MEMIT's ``*_prompts_correct``): every target token is the argmax under teacher forcing
  (``target_new`` on rewrite/paraphrase/alias prompts, ``target_true`` on neighbours);
- fluency and consistency from generations on ``generation_prompts`` (see :mod:`.fluency`).

The summary averages each per-case value over cases. Every prompt of every case is scored in
one batched pass (:func:`.scoring.score_continuations`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..requests import EditRequest, RequestKind
from ..errors import EvaluationError
from .fluency import ConsistencyScorer, ngram_entropy
from .results import CaseMetrics, EditMetrics, EvalReport, PromptRecord, summarize
from .scoring import ContinuationScore, HasModel, score_continuations

log = logging.getLogger(__name__)

GROUPS = ("rewrite", "paraphrase", "neighborhood", "alias")
#: ROME's generation settings: top-k 5 sampling; the reference caps the whole text at 100 tokens.
GEN_TOP_K = 5
GEN_MAX_NEW_TOKENS = 100

PerRequest = Sequence[str] | Sequence[Sequence[str]] | Mapping[str, Sequence[str]] | None


def _prompts_of(request: EditRequest) -> dict[str, list[str]]:
    return {
        "rewrite": [request.text],
        "paraphrase": list(request.paraphrase_prompts),
        "neighborhood": list(request.neighborhood_prompts),
        "alias": list(request.alias_prompts),
    }


def _per_request(value: PerRequest, requests: Sequence[EditRequest], meta_key: str) -> list[list[str]]:
    """Normalise a per-request text option: one flat list for all, one list per request, or by case id."""
    if value is None:
        return [list(r.meta.get(meta_key, ())) for r in requests]
    if isinstance(value, Mapping):
        return [list(value.get(r.case_id, r.meta.get(meta_key, ()))) for r in requests]
    value = list(value)
    if all(isinstance(v, str) for v in value):
        return [list(value) for _ in requests]  # type: ignore[arg-type]
    if len(value) != len(requests):
        raise EvaluationError(
            f"{meta_key}: got {len(value)} lists for {len(requests)} requests",
            hint="give one list per request, one flat list for all, or a mapping by case_id",
        )
    return [list(v) for v in value]  # type: ignore[arg-type]


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def _group_metrics(group: str, recs: list[PromptRecord]) -> dict[str, float | None]:
    """Score / magnitude / top-1 of one prompt group, following ``summarize.py``."""
    both = [r for r in recs if r.nll_new is not None and r.nll_true is not None]
    name = "efficacy" if group == "rewrite" else group
    if group == "neighborhood":
        score = [float(r.nll_true < r.nll_new) for r in both]  # type: ignore[operator]
        mag = [math.exp(-r.nll_true) - math.exp(-r.nll_new) for r in both]  # type: ignore[operator]
        top = [float(r.true_top1) for r in recs if r.true_top1 is not None]
    else:
        score = [float(r.nll_new < r.nll_true) for r in both]  # type: ignore[operator]
        mag = [math.exp(-r.nll_new) - math.exp(-r.nll_true) for r in both]  # type: ignore[operator]
        top = [float(r.new_top1) for r in recs if r.new_top1 is not None]
    return {f"{name}_score": _mean(score), f"{name}_magnitude": _mean(mag), f"{name}_top1": _mean(top)}


def evaluate(
    lm: HasModel,
    requests: Sequence[EditRequest],
    *,
    generation_prompts: PerRequest = None,
    reference_texts: PerRequest = None,
    consistency_corpus: Sequence[str] | None = None,
    batch_size: int = 32,
    max_new_tokens: int = GEN_MAX_NEW_TOKENS,
    seed: int = 0,
    model_name: str | None = None,
) -> EvalReport:
    """CounterFact metrics of ``lm`` (edited or not) on ``requests``, as a typed report.

    ``generation_prompts`` / ``reference_texts``: one flat list used for every request, one
    list per request, or a mapping by ``case_id``; default ``request.meta[...]``. The TF-IDF of
    consistency is fitted on ``consistency_corpus`` (default: every reference text given).
    """
    if not requests:
        raise EvaluationError("no requests to evaluate", hint="give at least one CounterFact record")
    groups = [_prompts_of(r) for r in requests]
    table = _score_all(lm, requests, groups, batch_size)
    gens = _generate_all(lm, requests, generation_prompts, max_new_tokens, seed)
    refs = _per_request(reference_texts, requests, "reference_texts")
    scorer = None
    if any(refs) and any(gens):
        corpus = list(consistency_corpus) if consistency_corpus is not None else [t for ref in refs for t in ref]
        scorer = ConsistencyScorer(corpus)
    cases = [_case(c, req, prompts, table, gens[c], refs[c], scorer)
             for c, (req, prompts) in enumerate(zip(requests, groups))]
    summary = summarize([c.metrics for c in cases])
    params = {"batch_size": batch_size, "max_new_tokens": max_new_tokens, "seed": seed, "top_k": GEN_TOP_K}
    name = model_name or getattr(lm, "name", None) or type(lm.model).__name__
    return EvalReport(model=str(name), summary=summary, cases=cases, params=params)


ScoreTable = dict[tuple[int, str, str], dict[str, ContinuationScore]]


def _score_all(lm: HasModel, requests: Sequence[EditRequest], groups: list[dict[str, list[str]]],
               batch_size: int) -> ScoreTable:
    """Every (case, group, prompt) → {"new"/"true": score}, all prompts of all cases in one batched pass."""
    items: list[tuple[str, str]] = []
    index: list[tuple[int, str, str, str]] = []  # (case, group, prompt, which)
    for c, (req, prompts) in enumerate(zip(requests, groups)):
        for group, plist in prompts.items():
            for prompt in plist:
                for which, target in (("new", req.target_new), ("true", req.target_true)):
                    if target is not None:
                        items.append((prompt, target))
                        index.append((c, group, prompt, which))
    table: ScoreTable = {}
    for (c, group, prompt, which), score in zip(index, score_continuations(lm, items, batch_size=batch_size)):
        table.setdefault((c, group, prompt), {})[which] = score
    return table


def _case(c: int, req: EditRequest, prompts: dict[str, list[str]], table: ScoreTable, gens: list[str],
          refs: list[str], scorer: ConsistencyScorer | None) -> CaseMetrics:
    """One case's metrics from its scored prompts (and generations, when there are any)."""
    metrics: dict[str, float | None] = {}
    records: list[PromptRecord] = []
    for group, plist in prompts.items():
        recs = []
        for prompt in plist:
            got = table[(c, group, prompt)]
            new, true = got.get("new"), got.get("true")
            recs.append(PromptRecord(group, prompt, new.nll if new else None, true.nll if true else None,
                                     new.top1 if new else None, true.top1 if true else None))
        records.extend(recs)
        if recs:
            metrics.update(_group_metrics(group, recs))
    rewrite = [r for r in records if r.group == "rewrite"]
    metrics["prob_new"] = _mean([math.exp(-r.nll_new) for r in rewrite if r.nll_new is not None])
    metrics["prob_true"] = _mean([math.exp(-r.nll_true) for r in rewrite if r.nll_true is not None])
    if gens:
        metrics["fluency"] = ngram_entropy(gens)
        if scorer is not None and refs:
            metrics["consistency"] = scorer.similarity(gens, refs)
    return CaseMetrics(
        case_id=req.case_id or str(c), subject=req.subject,
        kind=req.kind.value if isinstance(req.kind, RequestKind) else str(req.kind), edge_id=req.edge_id,
        metrics=EditMetrics(**metrics), prompts=records, generations=gens, role=str(req.meta.get("role", "edited")),
    )


def evaluate_requests(
    lm: HasModel,
    requests: Sequence[EditRequest],
    *,
    generation_prompts: PerRequest = None,
    reference_texts: PerRequest = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`evaluate` as a plain dict: ``{"model", "n_cases", "summary", "cases", "params"}``."""
    return evaluate(
        lm, requests, generation_prompts=generation_prompts, reference_texts=reference_texts, **kwargs
    ).to_dict()


def _generate_all(
    lm: HasModel, requests: Sequence[EditRequest], generation_prompts: PerRequest, max_new_tokens: int, seed: int
) -> list[list[str]]:
    """Sampled generations (top-k 5, seeded) per request; each text includes its prompt, as the reference's."""
    per = _per_request(generation_prompts, requests, "generation_prompts")
    flat = [p for plist in per for p in plist]
    if not flat:
        return [[] for _ in requests]
    from ..lm.generation import generate

    conts = generate(lm, flat, max_new_tokens=max_new_tokens, do_sample=True, top_k=GEN_TOP_K, seed=seed)  # type: ignore[arg-type]
    texts = [p + c for p, c in zip(flat, conts)]
    out, pos = [], 0
    for plist in per:
        out.append(texts[pos : pos + len(plist)])
        pos += len(plist)
    return out


def load_requests(path: str | Path) -> list[EditRequest]:
    """Read CounterFact-style JSONL (or a JSON list); generation prompts / reference texts go to ``meta``."""
    path = Path(path)
    if not path.exists():
        raise EvaluationError(f"requests file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path} is not valid JSON/JSONL ({exc})", hint="one CounterFact record per line") from None
    out = []
    for i, rec in enumerate(records):
        req = EditRequest.from_counterfact(rec)
        meta = dict(req.meta)
        for key in ("generation_prompts", "reference_texts", "role"):
            if key in rec:
                meta[key] = rec[key]
        out.append(req.with_(meta=meta, case_id=req.case_id or str(i)))
    if not out:
        raise EvaluationError(f"{path} holds no requests")
    return out
