"""``stylekg eval ...``: CounterFact metrics of a (possibly edited) model, and the style presence probe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DeviceOpt, DtypeOpt, JsonOpt, ModelOpt, console, emit_json, esc, require_utf8

eval_app = typer.Typer(
    help="Evaluate a model: `stylekg eval --requests FILE` (CounterFact metrics) or `stylekg eval presence STYLE`.",
)

OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the results as JSON files into this folder.")]


def _lines(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    require_utf8(path)
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@eval_app.callback(invoke_without_command=True)
def eval_requests(
    ctx: typer.Context,
    model: ModelOpt = "smollm2-135m",
    requests: Annotated[Path | None, typer.Option("--requests", "-r", help="CounterFact-style JSONL file.")] = None,
    delta: Annotated[Path | None, typer.Option("--delta", help="Apply a saved edit delta file before evaluating.")] = None,
    generation_prompts: Annotated[
        Path | None, typer.Option("--generation-prompts", help="Text file, one prompt a line, for fluency (all cases).")
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Text file of reference sentences for consistency (all cases).")
    ] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Generation length for fluency.")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    json_out: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """CounterFact metrics (efficacy, paraphrase, neighborhood, alias, fluency, consistency)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..evaluation.counterfact import evaluate, load_requests
    from ..errors import EvaluationError
    from ..lm import load_model

    if requests is None:
        raise EvaluationError("nothing to evaluate", hint="pass --requests FILE.jsonl, or use `stylekg eval presence STYLE`")
    from ..lm.loading import check_model
    from ..lm.placement import resolve_dtype

    require_utf8(requests, "request file")
    reqs = load_requests(requests)  # each request's template is checked as it is read
    prompts, references = _lines(generation_prompts), _lines(reference)
    check_model(model)  # all input checked before any weights are read
    resolve_dtype(dtype)
    lm = load_model(model, device=device, dtype=dtype)
    applied = None
    if delta is not None:
        from ..editing.result import EditResult

        applied = EditResult.load_and_apply(delta, lm.model)
    try:
        report = evaluate(
            lm,
            reqs,
            generation_prompts=prompts,
            reference_texts=references,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
            model_name=model,
        )
    finally:
        if applied is not None:
            applied.restore()
    report.params.update({"requests": str(requests), "delta": str(delta) if delta else None})
    if out is not None:
        report.save(out)
    if json_out:
        emit_json({"model": model, "n_cases": len(report.cases), "summary": report.summary.as_dict()})
        return
    table = Table("metric", "value", title=f"{esc(model)} on {esc(requests.name)} ({len(report.cases)} cases)")
    for name, value in report.summary.as_dict().items():
        table.add_row(esc(name), "-" if value is None else f"{value:.4f}")
    console.print(table)


@eval_app.command("presence")
def presence(
    style: Annotated[str, typer.Argument(help="A library style (name or alias), or any subject with --marker.")],
    model: ModelOpt = "smollm2-135m",
    marker: Annotated[list[str] | None, typer.Option("--marker", help="Probe these markers instead of the library's.")] = None,
    neutral: Annotated[str, typer.Option("--neutral", help="The neutral subject to compare against.")] = "a person",
    threshold: Annotated[float, typer.Option("--threshold", help="Nats per token for an edge to count as held.")] = 1.0,
    samples: Annotated[int, typer.Option("--samples", help="Persona generations per subject (0: skip).")] = 8,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 40,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    json_out: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Which of a style's marker edges the model holds before any edit (log-prob gain over a neutral subject)."""
    import json

    from ..evaluation.presence import probe_presence, probe_style
    from ..paths import atomic_write_text
    from ..lm import load_model

    kwargs = dict(neutral_subject=neutral, threshold=threshold, n_samples=samples, max_new_tokens=max_new_tokens, seed=seed)
    if marker:
        lm = load_model(model, device=device, dtype=dtype)
        report = probe_presence(lm, style, list(marker), **kwargs)  # type: ignore[arg-type]
    else:
        from ..kg.library import library_material

        material = library_material(style)  # raises naming the library's styles when unknown
        lm = load_model(model, device=device, dtype=dtype)
        report = probe_style(lm, material, **kwargs)  # type: ignore[arg-type]
    report.model = model
    data = report.to_dict()
    if out is not None:
        atomic_write_text(out / "presence.json", json.dumps(data, indent=2))
    if json_out:
        emit_json(data)
        return
    table = Table(
        "marker", "trait", "Δ nats/token", "gen rate (subject)", "gen rate (neutral)", "held",
        title=f"{esc(model)}: presence of {esc(report.subject)} vs {esc(repr(neutral))} (threshold {threshold} nat)",
    )
    for m in report.markers:
        rate = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        table.add_row(
            esc(m.marker), esc(m.trait), f"{m.delta:+.2f}", rate(m.gen_rate_subject), rate(m.gen_rate_neutral),
            "[green]yes[/]" if m.present else "[dim]no[/]",
        )
    console.print(table)
    console.print(f"{len(report.present)} of {len(report.markers)} marker edges held")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
