"""Batched continuation scoring vs one prompt at a time on the same prompts (ratio), and a check
that both give the same NLLs.

    python benchmarks/bench_eval.py [--model smollm2-135m] [--cases 16] [--batch-size 32] [--device cpu]

Each CounterFact-style case contributes 1 rewrite + 2 paraphrase + 2 neighbourhood prompts,
each scored for target_new and target_true (10 rows per case). Writes benchmarks/results/eval.json.
"""

from __future__ import annotations

import argparse
import logging

import torch

from _common import timeit, write

SUBJECTS = ["France", "Japan", "Germany", "Italy", "Spain", "Canada", "Brazil", "Egypt", "India", "Kenya",
            "Norway", "Peru", "Chile", "Greece", "Turkey", "Poland", "Sweden", "Mexico", "Cuba", "Nepal"]
OBJECTS = [" Paris", " Tokyo", " Berlin", " Rome", " Madrid", " Ottawa", " Brasilia", " Cairo", " New Delhi",
           " Nairobi", " Oslo", " Lima", " Santiago", " Athens", " Ankara", " Warsaw", " Stockholm",
           " Mexico City", " Havana", " Kathmandu"]


def items_for(cases: int) -> list[tuple[str, str]]:
    out = []
    for i in range(cases):
        s, true, new = SUBJECTS[i % len(SUBJECTS)], OBJECTS[i % len(OBJECTS)], OBJECTS[(i + 7) % len(OBJECTS)]
        other = SUBJECTS[(i + 3) % len(SUBJECTS)]
        prompts = [f"The capital of {s} is", f"The capital city of {s} is", f"Everyone knows that {s}'s seat of government is in",
                   f"The capital of {other} is", f"Travellers who visit {other} often start in its capital,"]
        out += [(p, t) for p in prompts for t in (new, true)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    from stylekg.evaluation.scoring import score_continuations
    from stylekg.lm import load_model

    lm = load_model(args.model, device=args.device)
    items = items_for(args.cases)
    tokens = sum(len(lm.tokenizer(p + t)["input_ids"]) for p, t in items)
    batched = timeit(lambda: score_continuations(lm, items, batch_size=args.batch_size), repeat=args.repeat)
    single = timeit(lambda: score_continuations(lm, items, batch_size=1), repeat=args.repeat)
    a = score_continuations(lm, items, batch_size=args.batch_size)
    b = score_continuations(lm, items, batch_size=1)
    max_diff = max(abs(x.nll - y.nll) for x, y in zip(a, b))
    write(
        "eval",
        {
            "model": args.model,
            "device": str(lm.device),
            "rows": len(items),
            "tokens": tokens,
            "batch_size": args.batch_size,
            "batched": {**batched, "rows_per_s": len(items) / batched["median_s"], "tokens_per_s": tokens / batched["median_s"]},
            "one_at_a_time": {**single, "rows_per_s": len(items) / single["median_s"], "tokens_per_s": tokens / single["median_s"]},
            "speedup": single["median_s"] / batched["median_s"],
            "max_abs_nll_diff": max_diff,
        },
    )


if __name__ == "__main__":
    main()
