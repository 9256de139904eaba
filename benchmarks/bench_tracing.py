"""Causal tracing: the fast algorithm against the naive reference, measured in the same run.

A full trace of a 16-token prompt (3 kinds, all layers, 10 samples): fast vs naive time, and the
max abs difference of their scores (must be <= 1e-5). Target: fast <= 0.3x naive. Then scaling
with prompt length and with the number of layers (the model truncated to its first k blocks).

    python benchmarks/bench_tracing.py                      # SmolLM2 (use a GPU: naive takes long on CPU)
    python benchmarks/bench_tracing.py --model tiny-gpt2    # quick run
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from _common import RESULTS, environment

log = logging.getLogger("bench_tracing")

SUBJECT = "the Space Needle"
BASE = "Every visitor to the Pacific Northwest who reads a travel guide learns that the Space Needle is located in the city of"


def prompt_of_length(tokenizer, n: int) -> str:
    """A suffix (whole words) of a long fact prompt with exactly ``n`` tokens if possible, else the nearest >= n."""
    words = ("Long ago, before the fair opened, " * 4 + BASE).split(" ")
    best = None
    for start in range(len(words) - 1, -1, -1):
        text = " ".join(words[start:])
        if SUBJECT not in text:
            continue
        length = len(tokenizer(text)["input_ids"])
        if length >= n:
            best = text if best is None or length == n else best
            if length == n or best is not None:
                return text
    raise ValueError(f"cannot build a {n}-token prompt")


def truncated(lm, k: int):
    """A copy of ``lm`` keeping only its first ``k`` blocks (a k-layer model for scaling runs)."""
    from stylekg.lm.architectures import get_module

    model = copy.deepcopy(lm.model)
    parent, _, attr = lm.arch.layers.rpartition(".")
    blocks = get_module(model, lm.arch.layers)
    setattr(get_module(model, parent), attr, torch.nn.ModuleList(list(blocks)[:k]))
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    setattr(cfg, lm.arch.n_layers_attr, k)
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = cfg.layer_types[:k]
    return type(lm)(f"{lm.name}[:{k}]", model, lm.tokenizer, lm.arch, lm.origin)


def random_model(folder: Path, device: str):
    """The architecture of ``folder``'s config with seeded random weights, and its tokenizer."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from stylekg.lm import LoadedModel, architecture_of, resolve_device

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder)).to(resolve_device(device)).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return LoadedModel(f"{folder.name} (random weights)", model, tokenizer, architecture_of(model), origin=str(folder))


def run_pair(lm, prompt, params, naive: bool = True, repeat: int = 1) -> dict:
    from stylekg.tracing import make_target, naive_trace, trace
    from stylekg.tracing.noise import embedding_std

    target = make_target(lm.tokenizer, " Seattle")
    std = embedding_std(lm)
    trace(lm, prompt, SUBJECT, target, params, noise_std=std, tokens=[-1])  # warm-up
    fast_times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fast = trace(lm, prompt, SUBJECT, target, params, noise_std=std)
        fast_times.append(time.perf_counter() - start)
    row = {"tokens": len(fast.tokens), "layers": lm.num_layers, "fast_s": min(fast_times),
           "clean": fast.high, "corrupted": fast.low}
    if naive:
        start = time.perf_counter()
        ref = naive_trace(lm, prompt, SUBJECT, target, params, noise_std=std)
        row["naive_s"] = time.perf_counter() - start
        row["ratio"] = row["fast_s"] / row["naive_s"]
        row["max_abs_diff"] = max(float(np.nanmax(np.abs(fast.scores[k] - ref.scores[k]))) for k in params.kinds)
        row["identical_within_1e-5"] = row["max_abs_diff"] <= 1e-5
    log.info("%s", row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--lengths", default="8,16,32", help="prompt lengths for the scaling run ('' to skip)")
    parser.add_argument("--layer-fracs", default="0.25,0.5,1.0", help="fractions of the layers for scaling ('' to skip)")
    parser.add_argument("--no-naive-scaling", action="store_true", help="time only the fast algorithm when scaling")
    parser.add_argument("--random-weights", type=Path, default=None,
                        help="a model folder with config + tokenizer only: build that architecture with seeded random "
                             "weights (timings do not depend on weight values)")
    parser.add_argument("--out", type=Path, default=RESULTS / "tracing.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.device in ("auto", "cpu") and not torch.cuda.is_available():
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    from stylekg.lm import load_model
    from stylekg.tracing import TraceParams

    lm = random_model(args.random_weights, args.device) if args.random_weights else load_model(args.model, device=args.device)
    params = TraceParams(samples=args.samples)
    prompt = prompt_of_length(lm.tokenizer, args.length)
    main_row = run_pair(lm, prompt, params, repeat=2)
    main_row["prompt"] = prompt
    lengths = []
    for n in [int(x) for x in args.lengths.split(",") if x]:
        lengths.append(run_pair(lm, prompt_of_length(lm.tokenizer, n), params, naive=not args.no_naive_scaling))
    layers = []
    for frac in [float(x) for x in args.layer_fracs.split(",") if x]:
        k = max(1, round(frac * lm.num_layers))
        layers.append(run_pair(truncated(lm, k), prompt, params, naive=not args.no_naive_scaling))
    payload = {
        "benchmark": "tracing",
        "environment": environment(),
        "model": args.model if not args.random_weights else f"{args.random_weights.name} architecture, random weights",
        "device": str(lm.device),
        "params": params.to_dict(),
        "target_ratio": 0.3,
        "main": main_row,
        "meets_target": main_row["ratio"] <= 0.3 and main_row["identical_within_1e-5"],
        "scaling_prompt_length": lengths,
        "scaling_layers": layers,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
