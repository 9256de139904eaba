"""Sequential editing on SmolLM2: ROME vs MEMIT vs AlphaEdit after 1, 10, 50 and 100 edits.

    .venv/bin/python benchmarks/bench_sequential.py [--model smollm2-135m] [--edits 100] [--batch 10]
                                                    [--methods rome,memit,alphaedit] [--threads 2]

Each method edits the facts of ``stylekg/data/facts/counterfact_<model>.jsonl`` in order, ``--batch`` at a
time (ROME one at a time: it is a single-fact method), each batch on the model the earlier batches
edited (:func:`stylekg.editing.sequential.apply_sequentially`; the statistics and AlphaEdit's null space
come from the unedited model). After 1, 10, 50 and 100 edits it measures efficacy and paraphrase scores on
*all* facts edited so far, and *neighbours kept* (vs the unedited model) on one fixed locality set: every
fact of the file after the last edited one, its prompt and its paraphrases, each with its own answer. (The
file's own neighbours come from its facts 60 on, so past 60 edits some of them are edited facts; the fixed
set is the same at every checkpoint and never edited.) The shipped configs are used as they are. Writes
``benchmarks/results/sequential.json`` and ``sequential.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import RESULTS, environment  # noqa: E402
from stylekg.editing.hparams_files import load_method  # noqa: E402
from stylekg.editing.requests_io import read_requests  # noqa: E402
from stylekg.editing.sequential import apply_sequentially  # noqa: E402
from stylekg.evaluation.counterfact import evaluate  # noqa: E402
from stylekg.lm import load_model  # noqa: E402
from stylekg.requests import EditRequest, Neighbour  # noqa: E402

CHECKPOINTS = (1, 10, 50, 100)
FACTS = Path(__file__).resolve().parents[1] / "stylekg" / "data" / "facts"


def with_locality(requests: list[EditRequest], held_out: list[EditRequest]) -> list[EditRequest]:
    """The requests with no neighbours of their own, the first carrying every held-out fact's prompt and
    paraphrases as neighbours with their own (true) answers: one locality set for every checkpoint."""
    fixed = tuple(Neighbour(prompt, f.target_true) for f in held_out for prompt in (f.text, *f.paraphrase_prompts))
    return [r.with_(neighborhood_prompts=fixed if i == 0 else ()) for i, r in enumerate(requests)]


def run_method(lm, method: str, requests, batch: int) -> dict:
    m, hp = load_method(method, lm.name)
    baseline = evaluate(lm, requests, greedy_tokens=0)
    rows: list[dict] = []
    marks = {c for c in CHECKPOINTS if c <= len(requests)}
    step = 1 if method == "rome" else batch
    started = time.perf_counter()

    def on_batch(done: int, _result) -> None:
        hits = sorted(c for c in marks if c <= done)
        if not hits or any(r["edits"] >= hits[-1] for r in rows):
            return
        edited = requests[:done]
        base = type(baseline)(baseline.model, baseline.summary, baseline.cases[:done], baseline.params)
        s = evaluate(lm, edited, greedy_tokens=0, baseline=base).summary
        rows.append({"edits": done, "seconds": time.perf_counter() - started, "efficacy": s.efficacy_score,
                     "efficacy_top1": s.efficacy_top1, "paraphrase": s.paraphrase_score,
                     "neighbours_kept": s.neighbours_kept})
        print(method, json.dumps(rows[-1]), flush=True)

    # checkpoints that fall inside a batch are measured after that batch
    result = apply_sequentially(method, m.apply, lm.model, lm.tokenizer, requests, hp, step, on_batch=on_batch)
    result.restore()
    return {"batch": step, "rows": rows}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharex=True)
    for method, data in results["methods"].items():
        xs = [r["edits"] for r in data["rows"]]
        for ax, key in zip(axes, ("efficacy", "paraphrase", "neighbours_kept")):
            ax.plot(xs, [r[key] for r in data["rows"]], marker="o", label=method)
            ax.set_title(key.replace("_", " "))
            ax.set_xscale("log")
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("edits so far")
    axes[0].legend()
    fig.suptitle(f"sequential editing on {results['model']} (batches of {results['batch']}; ROME one at a time)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--methods", default="rome,memit,alphaedit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "sequential.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model(args.model)
    facts = read_requests(FACTS / f"counterfact_{args.model}.jsonl")
    requests = with_locality(facts[: args.edits], facts[args.edits :])
    results = {"model": args.model, "batch": args.batch, "edits": len(requests), "environment": environment(),
               "locality_prompts": len(requests[0].neighborhood_prompts), "methods": {}}
    for method in args.methods.split(","):
        results["methods"][method] = run_method(lm, method, requests, args.batch)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
