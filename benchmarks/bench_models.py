"""Model load cold vs warm (ratio; target warm >= 8x faster) and forward tokens/s on a fixed batch.

    python benchmarks/bench_models.py [--model smollm2-135m]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from _common import timeit, write


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=64)
    args = parser.parse_args()

    from stylekg.lm import load_model

    with tempfile.TemporaryDirectory() as home:
        os.environ["STYLEKG_HOME"] = home  # an empty cache: the first load is truly cold
        start = time.perf_counter()
        cold = load_model(args.model)
        cold_s = time.perf_counter() - start
        del cold
        warm_runs = []
        for _ in range(3):
            start = time.perf_counter()
            lm = load_model(args.model)
            warm_runs.append(time.perf_counter() - start)
    warm_s = sorted(warm_runs)[1]

    torch.manual_seed(0)
    vocab = lm.model.config.vocab_size
    ids = torch.randint(100, vocab - 1, (args.batch, args.seq))

    @torch.no_grad()
    def forward() -> None:
        lm.model(input_ids=ids)

    fwd = timeit(forward, repeat=5)
    write(
        f"models-{args.model}",
        {
            "model": args.model,
            "cold_load_s": cold_s,
            "warm_load_s": warm_s,
            "warm_speedup": cold_s / warm_s,
            "target_speedup": 8.0,
            "forward_batch": [args.batch, args.seq],
            "forward_s": fwd["median_s"],
            "forward_tokens_per_s": args.batch * args.seq / fwd["median_s"],
        },
    )


if __name__ == "__main__":
    main()
