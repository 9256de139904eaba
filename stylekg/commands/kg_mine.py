"""``stylekg kg mine``: propose a style's markers from what a model really writes (a graph file to review)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DeviceOpt, DtypeOpt, JsonOpt, console, emit_json, esc
from .kg import kg_app


@kg_app.command("mine")
def mine_cmd(
    style: Annotated[str, typer.Option("--style", "-s", help="Name of the style to mine (a new or a library style).")],
    model: Annotated[str, typer.Option("--model", "-m", help="The model whose answers are mined.")] = "smollm2-135m",
    prompts: Annotated[str, typer.Option("--prompts", help="Prompt set (built-in name or JSON file); its train split is used.")] = "assistant-instructions",
    reference: Annotated[str, typer.Option("--reference", help="plain (the model told to answer plainly), a text file, or plain+FILE.")] = "plain",
    top: Annotated[int, typer.Option("--top", help="How many phrases to propose.")] = 20,
    min_z: Annotated[float, typer.Option("--min-z", help="Smallest log-odds z-score to propose.")] = 1.0,
    parent: Annotated[str | None, typer.Option("--parent", help="Put the style under this abstract style.")] = None,
    provider: Annotated[str, typer.Option("--provider", help="Neutral forms and traits from: library | openai | local.")] = "library",
    llm_model: Annotated[str, typer.Option("--llm-model", help="Model name at the OpenAI-compatible endpoint.")] = "",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Length of each answer.")] = 96,
    temperature: Annotated[float, typer.Option("--temperature", help="0 = greedy answers; > 0 samples.")] = 0.0,
    samples: Annotated[int, typer.Option("--samples", "-k", help="Answers per prompt (sampling only).")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Graph file to write (review it, then `stylekg kg import`).")] = Path("mined.json"),
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    json_out: JsonOpt = False,
) -> None:
    """Generate answers, rank phrases by weighted log-odds against a plain reference, write a reviewable graph."""
    from ..errors import GraphError
    from ..evaluation.generated_style import GenerationCache, SamplingSettings
    from ..evaluation.prompt_sets import load_prompt_set
    from ..kg.io import save_graph
    from ..lm import load_model
    from ..pipeline.mine_job import mine

    if top < 1:
        raise GraphError(f"--top {top}", hint="propose at least one phrase")
    prompt_set = load_prompt_set(prompts)  # bad input is named before the model loads
    settings = SamplingSettings(k=samples, temperature=temperature, top_p=0.9 if temperature > 0 else 1.0,
                                max_new_tokens=max_new_tokens, seed=seed)
    lm = load_model(model, device=device, dtype=dtype)
    result = mine(lm, style, prompt_set, reference=reference, top=top, min_z=min_z, provider=provider,
                  llm_model=llm_model, parent=parent, settings=settings, cache=GenerationCache())
    save_graph(result.graph, out)
    rows = [{"phrase": m.phrase, "z": round(m.z, 2), "count": m.count, "reference": m.count_reference,
             "answers": m.documents, "trait": m.trait, "neutral": m.neutral} for m in result.mined.markers]
    if json_out:
        emit_json({"out": str(out), "style": style, "reference": result.mined.reference, "markers": rows})
        return
    table = Table("phrase", "z", "count", "in reference", "answers", "trait", "neutral form",
                  title=f"{esc(style)}: phrases {esc(model)} over-uses ({len(result.answers.prompts)} answers "
                        f"vs {result.reference_size} reference texts)")
    for r in rows:
        table.add_row(esc(r["phrase"]), f"{r['z']:.2f}", str(r["count"]), str(r["reference"]), str(r["answers"]),
                      esc(r["trait"]), esc(r["neutral"] or "—"))
    console.print(table)
    console.print(f"wrote {esc(str(out))}: review it, then `stylekg kg import {esc(str(out))}`")


def register(app: typer.Typer) -> None:
    """Attached to the ``kg`` group (registered by :mod:`stylekg.commands.kg`)."""
