"""Device check (issue 23): a model split between the GPU and the CPU edits like the model placed whole.

    .venv/bin/python scripts/device_check.py [--model tiny-gpt2] [--dtype float32] [--stats-samples 2000]

1. The model placed whole on the main device (``cuda:0``, or the CPU on a machine without a GPU) gets a MEMIT
   edit of the tiny requests of ``tests/unit/edit_helpers.py``, timed (CUDA synchronised before and after).
2. The same model is loaded again and placed by an explicit device map naming every module: embeddings, final
   norm, head and the lower half of the layers on the main device, the upper half on ``"cpu"``. With a GPU those
   layers are *offloaded* (weights kept in CPU memory, copied to the GPU for each forward pass); without one the
   same offload machinery runs with the CPU as execution device (``dispatch(..., offload_cpu=True)``).
3. MEMIT on the split model, with the same key statistics, must give the same deltas within ``--rtol`` (max abs
   difference over max abs delta), and ``restore()`` must give back the original weights bit for bit.

Prints one JSON object (devices, timings, differences, ``ok``); exits 1 when a check fails. Nothing is written
outside a temporary ``STYLEKG_HOME`` (the model cache is read from the real one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylekg.editing import EditContext  # noqa: E402
from stylekg.editing.hparams_files import load_method  # noqa: E402
from stylekg.editing.stats import key_second_moments  # noqa: E402
from stylekg.lm import load_model  # noqa: E402
from stylekg.lm.placement import dispatch, explicit_map, state_tensors  # noqa: E402
from stylekg.requests import EditRequest  # noqa: E402

REQUESTS = [  # the unit tests' requests (tests/unit/edit_helpers.py)
    EditRequest("The capital city of {}", "France", " Rome", " Paris", case_id="0"),
    EditRequest("The favourite sport of {}", "Michael Jordan", " soccer", " basketball", case_id="1"),
]


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _memit(lm, method, hparams, stats) -> tuple[dict[str, torch.Tensor], float, bool]:
    """MEMIT's deltas (on the CPU, float64), its seconds, and whether restore() gave back every bit."""
    before = {k: v.detach().clone() for k, v in state_tensors(lm.model).items()}
    _sync()
    started = time.perf_counter()
    result = method.apply(lm.model, lm.tokenizer, REQUESTS, hparams, EditContext(stats=stats))
    _sync()
    seconds = time.perf_counter() - started
    deltas = {k: d.detach().double().cpu() for k, d in result.deltas.items()}
    result.restore()
    after = state_tensors(lm.model)
    exact = all(torch.equal(after[k], v) for k, v in before.items())
    return deltas, seconds, exact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny-gpt2", help="registry name, local model directory or cached hub id")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--stats-samples", type=int, default=2000, help="tokens for the key statistics")
    parser.add_argument("--rtol", type=float, default=1e-4, help="max |delta_split - delta_whole| / max |delta|")
    args = parser.parse_args(argv)

    main_device = "cuda:0" if torch.cuda.is_available() else "cpu"
    method, hparams = load_method("memit", args.model)
    with tempfile.TemporaryDirectory() as home:
        whole = load_model(args.model, device=main_device, dtype=args.dtype)
        real_home = os.environ.get("STYLEKG_HOME")
        os.environ["STYLEKG_HOME"] = home  # statistics cache: temporary (model weights were read above)
        try:
            stats = key_second_moments(whole.model, whole.tokenizer, list(hparams.layers), samples=args.stats_samples)
        finally:
            if real_home is None:
                os.environ.pop("STYLEKG_HOME", None)
            else:
                os.environ["STYLEKG_HOME"] = real_home
        whole_deltas, whole_s, whole_exact = _memit(whole, method, hparams, stats)
        n = whole.num_layers
        del whole
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

        split = load_model(args.model, device="cpu", dtype=args.dtype)
        device_map = explicit_map(split.model, lambda i: main_device if i < n // 2 else "cpu", rest=main_device)
        dispatch(split.model, device_map, main_device=main_device, offload_cpu=True)
        split_deltas, split_s, split_exact = _memit(split, method, hparams, stats)

    diffs = {}
    for name, delta in whole_deltas.items():
        scale = float(delta.abs().max()) or 1.0
        diffs[name] = float((split_deltas[name] - delta).abs().max()) / scale
    same_keys = split_deltas.keys() == whole_deltas.keys()
    ok = same_keys and all(d <= args.rtol for d in diffs.values()) and whole_exact and split_exact
    report = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "model": args.model,
        "dtype": args.dtype,
        "main_device": main_device,
        "offloaded_layers": [k for k, v in device_map.items() if v == "cpu"],
        "edited_weights": sorted(whole_deltas),
        "relative_max_diff": diffs,
        "rtol": args.rtol,
        "memit_seconds_whole": round(whole_s, 3),
        "memit_seconds_split": round(split_s, 3),
        "cuda_peak_mb_split": (round(torch.cuda.max_memory_allocated() / 2**20, 1)
                               if torch.cuda.is_available() else None),
        "restore_exact": {"whole": whole_exact, "split": split_exact},
        "ok": ok,
    }
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
