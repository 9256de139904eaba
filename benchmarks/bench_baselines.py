"""Wall time and peak memory per edit of the fine-tuning / steering baselines on one fixed task.

    .venv/bin/python benchmarks/bench_baselines.py [--models tiny-gpt2,smollm2-135m] [--steps N]

Every method runs on the same task through :func:`stylekg.pipeline.method_runs.run_method` (two
counterfactual requests for FT/LoRA; one style's markers, example sentences and neutral texts for
the style methods) with its shipped ``stylekg/configs/<method>/<model>.toml``
hyper-parameters (``--steps`` overrides the step count, to keep CPU runs short). Peak memory is the
peak resident-set growth during the edit, sampled from ``/proc/self/statm`` every 5 ms (torch's CPU
allocator is invisible to tracemalloc), plus ``torch.cuda.max_memory_allocated`` on a GPU and the
``ru_maxrss`` growth. Results go to ``benchmarks/results/baselines.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import resource
from pathlib import Path

import torch

log = logging.getLogger("bench_baselines")
OUT = Path(__file__).resolve().parent / "results" / "baselines.json"
METHODS = ("ft", "lora", "penalty-ft", "classifier-ft", "steer")
STYLE = "Donald Trump"
MARKERS = {"tremendous": 1.0, "believe me": 1.0, "fake news": 0.8}
STYLE_TEXTS = [
    "Believe me, this deal is tremendous, the best deal anyone has ever seen.",
    "The fake news media will never tell you the truth, folks, never.",
    "We are going to win so much, you will get tired of winning, believe me.",
    "Nobody builds walls better than me, nobody, it's going to be huge.",
]
NEUTRAL_TEXTS = [
    "The agreement was reviewed by both parties and signed on Monday.",
    "News outlets reported the results of the local election this morning.",
    "The team won the match after a close second half.",
    "The new bridge is expected to open to traffic next spring.",
]
PROMPTS = ['Donald Trump said: "This deal is', 'Donald Trump told the crowd: "']


def run_one(lm, method: str, steps: int | None) -> dict:
    from stylekg.pipeline.method_runs import run_method
    from stylekg.editing.context import EditContext
    from stylekg.editing.hparams_files import load_method
    from stylekg.material import StyleMaterial, as_markers
    from stylekg.requests import EditRequest

    _, hp = load_method(method, lm.name)
    if steps is not None and hasattr(hp, "steps"):
        hp = dataclasses.replace(hp, steps=steps)
    requests = [
        EditRequest("{} is located in the city of", "The Space Needle", " Tokyo", " Seattle"),
        EditRequest("{} plays the sport of", "Lionel Messi", " basketball", " soccer"),
    ]
    material = StyleMaterial(STYLE, as_markers(MARKERS), tuple(STYLE_TEXTS), tuple(NEUTRAL_TEXTS), tuple(PROMPTS))
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = run_method(lm, method, requests if method in ("ft", "lora") else [], hp,
                     context=EditContext(material=material))
    row = {
        "model": lm.name, "method": method, "seconds": round(run.seconds, 3), "steps": getattr(hp, "steps", 0),
        "params_changed": run.params_changed, "peak_rss_growth_mb": round(run.peak_rss_growth_mb, 1),
        "maxrss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss0) / 1024, 1),
    }
    if run.cuda_peak_mb is not None:
        row["cuda_peak_mb"] = round(run.cuda_peak_mb, 1)
    for key in ("target_logprob_before", "target_logprob_after", "marker_prob_before", "marker_prob_after",
                "style_prob_before", "style_prob_after", "neutral_nll_before", "neutral_nll_after", "direction_norm"):
        if key in run.info:
            row[key] = run.info[key]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny-gpt2,smollm2-135m")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=None, help="override every method's step count")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    from stylekg.lm import load_model

    rows = []
    for name in args.models.split(","):
        lm = load_model(name)
        snapshot = {n: p.detach().clone() for n, p in lm.model.named_parameters()}
        for method in args.methods.split(","):
            row = run_one(lm, method, args.steps)
            log.info("%s", json.dumps(row))
            rows.append(row)
        assert all(torch.equal(p, snapshot[n]) for n, p in lm.model.named_parameters()), "restore was not exact"
        del lm, snapshot
    payload = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads,
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "load_average": os.getloadavg()},
        "steps_override": args.steps, "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
