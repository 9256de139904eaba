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

Beyond the reference:

- generation-based efficacy: does the *greedy* continuation (``greedy_tokens`` tokens) of the rewrite
  (paraphrase) prompt contain the new object? (``efficacy_generation``, ``paraphrase_generation``);
- neighbours with their own answers (:class:`stylekg.requests.Neighbour`; for plain neighbourhood prompts
  the answer is ``target_true``): ``neighbours_own_top1`` / ``neighbours_own_prob`` on this model and, given
  the unedited model's report as ``baseline``, ``neighbours_kept``: the share whose answer keeps its top-1
  (greedy) status and at least half of its probability (:data:`KEEP_RATIO`).

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

from ..requests import EditRequest, Neighbour, RequestKind
from ..errors import EvaluationError
from .fluency import ConsistencyScorer, ngram_entropy
from .results import CaseMetrics, EditMetrics, EvalReport, PromptRecord, summarize
from .scoring import ContinuationScore, HasModel, score_continuations

log = logging.getLogger(__name__)

GROUPS = ("rewrite", "paraphrase", "neighborhood", "alias")
#: a neighbour is kept when its answer keeps its top-1 status and at least this share of its probability
KEEP_RATIO = 0.5
#: tokens of greedy continuation for the generation-based efficacy
GREEDY_TOKENS = 8
#: ROME's generation settings: top-k 5 sampling; the reference caps the whole text at 100 tokens.
GEN_TOP_K = 5
GEN_MAX_NEW_TOKENS = 100

PerRequest = Sequence[str] | Sequence[Sequence[str]] | Mapping[str, Sequence[str]] | None


def _prompts_of(request: EditRequest) -> dict[str, list[str]]:
    return {
        "rewrite": [request.text],
        "paraphrase": list(request.paraphrase_prompts),
        "neighborhood": [n for n in request.neighborhood_prompts if isinstance(n, str)],
        "alias": list(request.alias_prompts),
    }


def _own_neighbours(request: EditRequest) -> list[Neighbour]:
    return [n for n in request.neighborhood_prompts if isinstance(n, Neighbour)]


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
    greedy_tokens: int = GREEDY_TOKENS,
    baseline: EvalReport | None = None,
) -> EvalReport:
    """CounterFact metrics of ``lm`` (edited or not) on ``requests``, as a typed report.

    ``generation_prompts`` / ``reference_texts``: one flat list used for every request, one
    list per request, or a mapping by ``case_id``; default ``request.meta[...]``. The TF-IDF of
    consistency is fitted on ``consistency_corpus`` (default: every reference text given).
    ``greedy_tokens``: length of the greedy continuations for generation-based efficacy (0: skip).
    ``baseline``: the same requests' report on the unedited model, for ``neighbours_kept``.
    """
    if not requests:
        raise EvaluationError("no requests to evaluate", hint="give at least one CounterFact record")
    if baseline is not None and len(baseline.cases) != len(requests):
        raise EvaluationError(f"baseline has {len(baseline.cases)} cases for {len(requests)} requests",
                              hint="pass the report of the same requests on the unedited model")
    groups = [_prompts_of(r) for r in requests]
    table = _score_all(lm, requests, groups, batch_size)
    own = _score_own(lm, requests, batch_size)
    greedy = _greedy_all(lm, requests, greedy_tokens)
    gens = _generate_all(lm, requests, generation_prompts, max_new_tokens, seed)
    refs = _per_request(reference_texts, requests, "reference_texts")
    scorer = None
    if any(refs) and any(gens):
        corpus = list(consistency_corpus) if consistency_corpus is not None else [t for ref in refs for t in ref]
        scorer = ConsistencyScorer(corpus)
    cases = [_case(c, req, prompts, table, gens[c], refs[c], scorer, own[c], greedy[c],
                   baseline.cases[c] if baseline is not None else None)
             for c, (req, prompts) in enumerate(zip(requests, groups))]
    summary = summarize([c.metrics for c in cases])
    params = {"batch_size": batch_size, "max_new_tokens": max_new_tokens, "seed": seed, "top_k": GEN_TOP_K,
              "greedy_tokens": greedy_tokens, "keep_ratio": KEEP_RATIO}
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


def _score_own(lm: HasModel, requests: Sequence[EditRequest], batch_size: int) -> list[list[tuple[Neighbour, ContinuationScore]]]:
    """Each request's neighbours with their own answers, scored on those answers (one batched pass)."""
    items = [(n.prompt, n.target) for r in requests for n in _own_neighbours(r)]
    scores = iter(score_continuations(lm, items, batch_size=batch_size)) if items else iter(())
    return [[(n, next(scores)) for n in _own_neighbours(r)] for r in requests]


def _greedy_all(lm: HasModel, requests: Sequence[EditRequest], tokens: int) -> list[dict[str, str]]:
    """Greedy continuations of every rewrite and paraphrase prompt ({prompt: text} per request)."""
    if tokens <= 0:
        return [{} for _ in requests]
    from ..lm.generation import generate

    prompts = [[r.text, *r.paraphrase_prompts] if r.target_new is not None else [] for r in requests]
    flat = list(dict.fromkeys(p for plist in prompts for p in plist))
    texts: dict[str, str] = {}
    for start in range(0, len(flat), 64):
        chunk = flat[start : start + 64]
        texts.update(zip(chunk, generate(lm, chunk, max_new_tokens=tokens, do_sample=False)))  # type: ignore[arg-type]
    return [{p: texts[p] for p in plist} for plist in prompts]


def _contains(text: str, target: str) -> bool:
    return target.strip().lower() in text.lower()


def _own_answers(records: Sequence[PromptRecord]) -> list[tuple[PromptRecord, float, bool]]:
    """Neighbour prompts with their own answer's NLL and top-1 status: :class:`Neighbour` prompts (group
    ``locality``) and plain neighbourhood prompts (whose answer is ``target_true``)."""
    out = [(r, r.nll_own, r.own_top1) for r in records
           if r.group == "locality" and r.nll_own is not None and r.own_top1 is not None]
    out += [(r, r.nll_true, r.true_top1) for r in records
            if r.group == "neighborhood" and r.nll_true is not None and r.true_top1 is not None]
    return out  # type: ignore[return-value]


def kept_neighbours(before: Sequence[PromptRecord], after: Sequence[PromptRecord]) -> list[tuple[PromptRecord, bool]]:
    """Each neighbour prompt of one case (``after``: the edited model's records) and whether its own answer is
    kept against the unedited model's records of the same case (``before``); prompts missing there are left out."""
    earlier = {(r.group, r.prompt, r.target): r for r in before}
    return [(r, _kept(earlier[(r.group, r.prompt, r.target)], n, t)) for r, n, t in _own_answers(after)
            if (r.group, r.prompt, r.target) in earlier]


def _kept(before: PromptRecord, nll: float, top1: bool) -> bool:
    """Own answer keeps its top-1 status and at least KEEP_RATIO of its probability."""
    b_nll = before.nll_own if before.nll_own is not None else before.nll_true
    b_top = before.own_top1 if before.own_top1 is not None else before.true_top1
    if b_nll is None:
        return False
    return (top1 or not b_top) and math.exp(-nll) >= KEEP_RATIO * math.exp(-b_nll)


def _case(c: int, req: EditRequest, prompts: dict[str, list[str]], table: ScoreTable, gens: list[str],
          refs: list[str], scorer: ConsistencyScorer | None,
          own: list[tuple[Neighbour, ContinuationScore]] | None = None, greedy: dict[str, str] | None = None,
          baseline: CaseMetrics | None = None) -> CaseMetrics:
    """One case's metrics from its scored prompts (and generations, when there are any)."""
    metrics: dict[str, float | None] = {}
    records: list[PromptRecord] = []
    greedy = greedy or {}
    for group, plist in prompts.items():
        recs = []
        for prompt in plist:
            got = table[(c, group, prompt)]
            new, true = got.get("new"), got.get("true")
            recs.append(PromptRecord(group, prompt, new.nll if new else None, true.nll if true else None,
                                     new.top1 if new else None, true.top1 if true else None,
                                     generated=greedy.get(prompt) if group in ("rewrite", "paraphrase") else None))
        records.extend(recs)
        if recs:
            metrics.update(_group_metrics(group, recs))
    for neighbour, sc in own or []:
        records.append(PromptRecord("locality", neighbour.prompt, None, None, None, None,
                                    target=neighbour.target, nll_own=sc.nll, own_top1=sc.top1))
    if req.target_new is not None and greedy:
        for group, name in (("rewrite", "efficacy_generation"), ("paraphrase", "paraphrase_generation")):
            hits = [float(_contains(r.generated, req.target_new)) for r in records
                    if r.group == group and r.generated is not None]
            metrics[name] = _mean(hits)
    answers = _own_answers(records)
    if answers:
        metrics["neighbours_own_top1"] = _mean([float(t) for _, _, t in answers])
        metrics["neighbours_own_prob"] = _mean([math.exp(-n) for _, n, _ in answers])
        if baseline is not None:
            metrics["neighbours_kept"] = _mean([float(k) for _, k in kept_neighbours(baseline.prompts, records)])
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
