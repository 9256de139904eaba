"""Graph-guarded MEMIT / AlphaEdit against the plain reference method, in one run on the same facts and seed.

    .venv/bin/python benchmarks/bench_guard.py --model smollm2-135m --protocol tune  [--method memit] [--set k=v ...]
    .venv/bin/python benchmarks/bench_guard.py --model smollm2-135m --protocol judge

Protocols (records of ``stylekg/data/facts/counterfact_<model>.jsonl``):

* ``tune``: edit records 50-99 in one batch; locality = the rewrite and paraphrase prompts of records 0-49 with
  the unedited model's own answers; the preserved set is probed with the subjects and templates of records
  100-126 only. Settings are chosen here.
* ``judge``: edit records 0-49 in one batch, the file's own neighbours judged; the preserved set is probed with
  the subjects and templates of records 50-126. Those neighbours are facts of records 50-126, so many judged
  neighbours are also preserved prompts: neighbours kept is reported on all of them and on the judged neighbours
  whose prompt is *not* in the preserved set (the honest number).

Each row: efficacy / paraphrase / greedy generation of the new object / neighbours kept (+ by kind) and wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import torch

from stylekg.editing import EditContext
from stylekg.editing.hparams_files import load_method
from stylekg.editing.requests_io import read_requests
from stylekg.editing.stats import key_second_moments
from stylekg.evaluation.counterfact import evaluate
from stylekg.evaluation.locality_kinds import locality_by_kind
from stylekg.lm import load_model
from stylekg.pipeline.probed_preserved import probe_preserved, shipped_vocabulary
from stylekg.requests import Neighbour

ROOT = Path(__file__).resolve().parents[1]


def _tuning_requests(requests, n: int):
    """Records 50..50+n with the rewrite and paraphrase prompts of records 0-49 as locality (own answers)."""
    loc = []
    for r in requests[:50]:
        for prompt in (r.text, *r.paraphrase_prompts):
            loc.append(Neighbour(prompt, r.target_true))
    edits = requests[50:50 + n]
    per = -(-len(loc) // len(edits))
    return [e.with_(neighborhood_prompts=tuple(loc[i * per:(i + 1) * per])) for i, e in enumerate(edits)]


def _kept_disjoint(requests, before, after, preserved) -> dict:
    from stylekg.evaluation.counterfact import kept_neighbours

    prompts = {p.prompt.strip() for p in preserved}
    all_, disjoint = [], []
    for b, a in zip(before.cases, after.cases):
        for record, kept in kept_neighbours(b.prompts, a.prompts):
            all_.append(kept)
            if record.prompt.strip() not in prompts:
                disjoint.append(kept)
    share = lambda xs: {"n": len(xs), "kept": (sum(xs) / len(xs)) if xs else None}  # noqa: E731
    return {"all": share(all_), "not_preserved": share(disjoint)}


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    lm = load_model(args.model)
    facts = ROOT / "stylekg" / "data" / "facts" / f"counterfact_{args.model}.jsonl"
    records = read_requests(facts)
    if args.protocol == "tune":
        requests, vocab = _tuning_requests(records, args.edits), shipped_vocabulary(args.model, slice(100, None))
    else:
        requests, vocab = records[:args.edits], shipped_vocabulary(args.model, slice(50, None))
    method, hp = load_method(args.method, args.model)
    changes = {k: type(getattr(hp, k))(v) if not isinstance(getattr(hp, k), bool) else v in ("1", "true", "True")
               for k, v in (s.split("=", 1) for s in args.set)}
    hp = dataclasses.replace(hp, **changes)
    stats = key_second_moments(lm.model, lm.tokenizer, list(hp.layers), samples=hp.stats_samples)
    t0 = time.perf_counter()
    preserved = probe_preserved(lm, requests, vocab, min_prob=args.min_prob, per_template=args.per_template)
    probe_s = time.perf_counter() - t0
    before = evaluate(lm, requests)
    out = {"model": args.model, "method": args.method, "protocol": args.protocol, "edits": len(requests),
           "settings": changes,
           "preserved": len(preserved), "probe_s": probe_s, "rows": {}}
    for row in args.rows:
        context = EditContext(stats=stats, preserved=preserved if row == "guarded" else ())
        t0 = time.perf_counter()
        result = method.apply(lm.model, lm.tokenizer, requests, hp, context)
        wall = time.perf_counter() - t0
        report = evaluate(lm, requests, baseline=before)
        result.restore()
        s = report.summary
        out["rows"][row] = {
            "edit_s": wall, "efficacy": s.efficacy_score, "paraphrase": s.paraphrase_score,
            "greedy": s.efficacy_generation, "neighbours_kept": s.neighbours_kept, "guard": result.info.get("guard"),
        }
        print(row, json.dumps(out["rows"][row]), flush=True)
        out["rows"][row].update(
            kept=_kept_disjoint(requests, before, report, preserved),
            by_kind={k: v.as_dict() for k, v in locality_by_kind(requests, before, report).items()})
        print(row, json.dumps(out["rows"][row]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--method", default="memit", choices=["memit", "alphaedit"])
    parser.add_argument("--protocol", default="tune", choices=["tune", "judge"])
    parser.add_argument("--edits", type=int, default=50, help="facts edited in the batch (at most 50)")
    parser.add_argument("--rows", nargs="+", default=["plain", "guarded"])
    parser.add_argument("--set", nargs="*", default=[], help="hparam overrides, e.g. guard_key_weight=30")
    parser.add_argument("--min-prob", type=float, default=0.1)
    parser.add_argument("--per-template", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"machine": {"cpus": os.cpu_count(), "load_1min": os.getloadavg()[0]}, **run(args)}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
