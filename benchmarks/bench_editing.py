"""Editing benchmarks: statistics throughput, one ROME edit, MEMIT scaling, AlphaEdit overhead, MEMIT x50.

    .venv/bin/python benchmarks/bench_editing.py [--smollm] [--memit50 MODEL] [--device cpu] [--out ...]

* stats: tokens/s of the one-pass key statistics (all edited layers) vs a plain full forward over
  the same token windows (target: >= 80%).
* memit50 (``--memit50 smollm2-135m``): MEMIT with the shipped config on the first 50 facts of the
  model's fact set in one batch, statistics precomputed (as EasyEdit's 507 s was measured); wall and
  CPU seconds, where the time goes (context prefixes, value optimisation, keys and solves), and
  efficacy / paraphrase / neighbours kept, the neighbours kept by kind (about an edited subject / an edited
  template with another subject, relation or subject first / unrelated) and efficacy by shared subject, with Wilson intervals
  (:mod:`stylekg.evaluation.locality_kinds`). Also the cold time of 100k-token statistics, corpus included.
* rome: seconds for one ROME edit (statistics precomputed).
* memit: seconds for 10 / 100 / 1000 edits on tiny-gpt2 (10 / 100 on SmolLM2 with --smollm); the
  value optimisation uses a fixed number of steps so times compare across sizes.
* alphaedit: the same requests with AlphaEdit; overhead = time / MEMIT's time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylekg.editing import EditContext, alphaedit, memit, rome  # noqa: E402
from stylekg.editing.hparams_files import load_method  # noqa: E402
from stylekg.editing.corpora import local_corpus  # noqa: E402
from stylekg.editing.stats import _chunks, collect_second_moments, generate_corpus  # noqa: E402
from stylekg.editing.common.prompts import pad_batch, pad_id  # noqa: E402
from stylekg.lm import load_model  # noqa: E402
from stylekg.requests import EditRequest  # noqa: E402

WORDS = [" Rome", " Paris", " soccer", " guitar", " French", " Tokyo", " London", " piano", " Berlin", " tennis"]


def synthetic_requests(n: int) -> list[EditRequest]:
    """``n`` distinct subject-last requests (person names built from syllables)."""
    syll = ["ka", "lo", "mi", "ter", "sa", "ven", "dor", "li", "ba", "ne"]
    out = []
    for i in range(n):
        name = "".join(syll[(i // 10**k) % 10] for k in range(3)).capitalize() + " " + syll[i % 7].capitalize() + "son"
        out.append(EditRequest("The favourite thing of {}", name, WORDS[i % 10], WORDS[(i + 3) % 10], case_id=str(i)))
    return out


def timed(fn) -> tuple[float, object]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t, out


@torch.no_grad()
def bench_stats(lm, layers: list[int], tokens: int) -> dict:
    found = local_corpus()
    texts = found.texts if found is not None else generate_corpus(lm.model, lm.tokenizer, tokens, length=128)
    chunks = _chunks(lm.tokenizer, texts, 256)[: max(1, tokens // 256)]
    n_tok = sum(len(c) for c in chunks)

    def plain():
        for s in range(0, len(chunks), 8):
            ids, mask = pad_batch(chunks[s : s + 8], pad_id(lm.tokenizer), lm.device)
            lm.model(input_ids=ids, attention_mask=mask)

    plain()  # warm-up
    t_plain, _ = timed(plain)
    t_stats, (_, seen) = timed(lambda: collect_second_moments(lm.model, lm.tokenizer, layers, texts, n_tok))
    return {
        "layers": layers,
        "tokens": n_tok,
        "plain_forward_tok_s": n_tok / t_plain,
        "stats_tok_s": seen / t_stats,
        "ratio": (seen / t_stats) / (n_tok / t_plain),
    }


def bench_model(name: str, sizes: list[int], steps: int, stats_tokens: int) -> dict:
    lm = load_model(name, device=ARGS.device)
    out: dict = {"model": name}
    hp_m = dataclasses.replace(load_method("memit", name)[1],
                               v_num_grad_steps=steps, stop_loss=0.0, stats_samples=stats_tokens)
    hp_r = dataclasses.replace(load_method("rome", name)[1],
                               v_num_grad_steps=steps, stop_loss=0.0, stats_samples=stats_tokens)
    hp_a = dataclasses.replace(load_method("alphaedit", name)[1],
                               v_num_grad_steps=steps, stop_loss=0.0, stats_samples=stats_tokens)
    layers = sorted(set(hp_m.layers) | {hp_r.layer})
    out["stats"] = bench_stats(lm, layers, stats_tokens)
    print(json.dumps(out["stats"]), flush=True)
    from stylekg.editing.stats import key_second_moments

    stats = key_second_moments(lm.model, lm.tokenizer, layers, samples=stats_tokens)
    t, res = timed(lambda: rome.apply(lm.model, lm.tokenizer, synthetic_requests(1), hp_r, EditContext(stats=stats)))
    res.restore()
    out["rome_one_edit_s"] = t
    out["memit"], out["alphaedit"] = {}, {}
    for n in sizes:
        reqs = synthetic_requests(n)
        t, res = timed(lambda: memit.apply(lm.model, lm.tokenizer, reqs, hp_m, EditContext(stats=stats)))
        res.restore()
        out["memit"][str(n)] = {"seconds": t, "per_edit_s": t / n}
        t_a, res = timed(lambda: alphaedit.apply(lm.model, lm.tokenizer, reqs, hp_a, EditContext(stats=stats)))
        res.restore()
        out["alphaedit"][str(n)] = {"seconds": t_a, "overhead_vs_memit": t_a / t}
        print(n, out["memit"][str(n)], out["alphaedit"][str(n)], flush=True)
    out["value_steps"] = steps
    return out


def bench_memit50(name: str) -> dict:
    """MEMIT x50 in one batch with the shipped config, and cold 100k-token statistics (corpus included)."""
    from stylekg.editing.requests_io import read_requests
    from stylekg.editing.stats import key_second_moments
    from stylekg.evaluation.counterfact import evaluate
    from stylekg.evaluation.locality_kinds import efficacy_by_subject, locality_by_kind

    lm = load_model(name, device=ARGS.device)
    _, hp = load_method("memit", name)
    facts = Path(__file__).resolve().parents[1] / "stylekg" / "data" / "facts" / f"counterfact_{name}.jsonl"
    requests = read_requests(facts)[:50]
    t0, c0 = time.perf_counter(), time.process_time()
    stats = key_second_moments(lm.model, lm.tokenizer, list(hp.layers), samples=hp.stats_samples, use_cache=False)
    stats_wall, stats_cpu = time.perf_counter() - t0, time.process_time() - c0
    before = evaluate(lm, requests)
    t0, c0 = time.perf_counter(), time.process_time()
    result = memit.apply(lm.model, lm.tokenizer, requests, hp, EditContext(stats=stats))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    report = evaluate(lm, requests, baseline=before)
    result.restore()
    after = report.summary
    out = {
        "model": name, "edits": len(requests), "edit_wall_s": wall, "edit_cpu_s": cpu,
        "where": result.info.get("timings"), "stats_100k_cold_wall_s": stats_wall, "stats_100k_cold_cpu_s": stats_cpu,
        "efficacy_score": after.efficacy_score, "efficacy_top1": after.efficacy_top1,
        "efficacy_generation": after.efficacy_generation, "paraphrase_score": after.paraphrase_score,
        "paraphrase_generation": after.paraphrase_generation, "neighbours_kept": after.neighbours_kept,
        "neighborhood_score": after.neighborhood_score,
        "neighbours_kept_by_kind": {k: v.as_dict() for k, v in locality_by_kind(requests, before, report).items()},
        "efficacy_by_subject": {k: v.as_dict() for k, v in efficacy_by_subject(requests, report).items()},
    }
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    if ARGS.memit50:
        result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": ARGS.threads,
                              "load_1min": os.getloadavg()[0]}, **bench_memit50(ARGS.memit50)}
        path = ARGS.out.with_name(f"memit50-{ARGS.memit50}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
        print(f"wrote {path}")
        return
    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": ARGS.threads,
                    "device": ARGS.device, "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
        "runs": [bench_model("tiny-gpt2", [10, 100, 1000], ARGS.steps, 2000)],
    }
    if ARGS.smollm:
        results["runs"].append(bench_model("smollm2-135m", [10, 100], ARGS.steps, 2000))
    ARGS.out.parent.mkdir(parents=True, exist_ok=True)
    ARGS.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {ARGS.out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smollm", action="store_true", help="also benchmark SmolLM2-135M (slow on CPU)")
    parser.add_argument("--memit50", metavar="MODEL", help="only: MEMIT x50 on MODEL's fact set, shipped config")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5, help="value-optimisation steps per edit batch")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "editing.json")
    ARGS = parser.parse_args()
    main()
