"""``stylekg trace ...``: causal tracing of facts and styles, comparisons and layer selection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DeviceOpt, DtypeOpt, JsonOpt, ModelOpt, console, emit_json, esc

trace_app = typer.Typer(help="Causal tracing: where a fact or a style lives in a model.", no_args_is_help=True)

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Folder for JSON, NumPy and plot files.")]
SamplesOpt = Annotated[int, typer.Option("--samples", help="Noised copies per prompt.")]
NoiseOpt = Annotated[float, typer.Option("--noise", help="Noise level as a multiple of the embedding std.")]
WindowOpt = Annotated[int, typer.Option("--window", help="Layers restored together for mlp/attn sites.")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", help="residual, mlp or attn (repeatable; default all).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Noise seed (a trace is reproducible bit for bit).")]


def _params(samples: int, noise: float, window: int, kinds: list[str] | None, seed: int):
    from ..tracing import KINDS, TraceParams

    return TraceParams(noise=noise, samples=samples, window=window, kinds=tuple(kinds or KINDS), seed=seed)


def _summary(result) -> dict:
    return {"prompt": result.prompt, "subject": result.subject, "target": result.target,
            "tokens": result.tokens, "subject_span": list(result.subject_span), "metrics": result.metrics()}


def _report(result, out: Path | None, stem: str, json_out: bool) -> dict:
    files: list[str] = []
    if out is not None:
        from ..tracing.plots import plot_trace

        files.append(str(result.save(out, stem)))
        files += [str(p) for p in plot_trace(result, out / stem)]
    data = {**_summary(result), "files": files}
    if not json_out:
        console.print(f"[bold]{esc(result.prompt)}[/] → {esc(result.target.get('text') or result.target.get('type'))}  "
                      f"clean {result.high:.4g}, corrupted {result.low:.4g}")
        for kind in result.scores:
            token, layer, eff = result.peak(kind)
            console.print(f"  {kind:8s} peak effect {eff:+.4g} at token {token} ({esc(repr(result.tokens[token]))}), "
                          f"layer {layer}")
        for f in files:
            console.print(f"  wrote {esc(f)}", highlight=False)
    return data


@trace_app.command("fact")
def fact(
    prompt: Annotated[str, typer.Argument(help="Prompt containing the subject.")],
    subject: Annotated[str, typer.Option("--subject", "-s", help="The subject as written in the prompt.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="Continuation to score (default: the model's top-1).")] = None,
    model: ModelOpt = "smollm2-135m",
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    samples: SamplesOpt = 10,
    noise: NoiseOpt = 3.0,
    window: WindowOpt = 10,
    kind: KindOpt = None,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Trace one fact: which (token, layer) states carry it."""
    from ..lm import load_model
    from ..tracing import make_target, trace
    from ..tracing.targets import top1_target

    lm = load_model(model, device=device, dtype=dtype)
    tgt = make_target(lm.tokenizer, target) if target is not None else top1_target(lm, prompt)
    result = trace(lm, prompt, subject, tgt, _params(samples, noise, window, kind, seed), progress=not json_out)
    data = _report(result, out, "trace", json_out)
    if json_out:
        emit_json(data)


@trace_app.command("style")
def style(
    name: Annotated[str, typer.Argument(help="Style name or alias (from --graph, else the built-in library).")],
    graph: Annotated[Path | None, typer.Option("--graph", "-g", help="Style graph file (JSON/GraphML).")] = None,
    marker: Annotated[list[str] | None, typer.Option("--marker", help="Style marker continuation (repeatable).")] = None,
    neutral: Annotated[list[str] | None, typer.Option("--neutral", help="Neutral counterpart (repeatable).")] = None,
    model: ModelOpt = "smollm2-135m",
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    samples: SamplesOpt = 10,
    noise: NoiseOpt = 3.0,
    window: WindowOpt = 10,
    kind: KindOpt = None,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Trace a whole style: restore states that bring back its markers over their neutral forms."""
    from ..lm import load_model
    from ..tracing import style_target, trace
    from ..tracing.aie import average_indirect_effect
    from ..material import StyleMaterial

    if marker and neutral:
        material, markers, neutrals = StyleMaterial(name), tuple(marker), tuple(neutral)
    else:
        from ..kg.library import library_material
        from ..kg.material import style_material

        if graph is not None:
            from ..kg.io import load_graph

            material = style_material(load_graph(graph), name)
        else:
            material = library_material(name)
        markers, neutrals = material.trace_pairs()
    lm = load_model(model, device=device, dtype=dtype)
    tgt = style_target(lm.tokenizer, markers, neutrals)
    params = _params(samples, noise, window, kind, seed)
    results = [trace(lm, p, material.name, tgt, params, progress=not json_out) for p in material.trace_prompts()]
    reports = [_report(r, out, f"style-{i}", json_out) for i, r in enumerate(results)]
    aie = average_indirect_effect(results)
    if out is not None:
        aie.plot(out / "style-aie")
    if json_out:
        emit_json({"style": material.name, "markers": markers, "neutrals": neutrals, "traces": reports,
                   "aie": aie.to_dict()})


@trace_app.command("compare")
def compare(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Models to compare (repeatable).")] = None,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    samples: SamplesOpt = 5,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Compare trace grids across inputs of varying similarity and across models."""
    from ..lm import load_model
    from ..tracing.site_comparison import DEFAULT_CASES, compare_results, run_cases

    params = _params(samples, 3.0, 10, None, seed)
    results = {}
    for name in model or ["smollm2-135m"]:
        results.update(run_cases(load_model(name, device=device, dtype=dtype), DEFAULT_CASES, params,
                                 progress=not json_out))
    comparison = compare_results(results)
    files = [str(p) for p in comparison.plot(out / "compare")] if out is not None else []
    if out is not None:
        for label, result in results.items():
            result.save(out, label.replace("/", "_").replace(" ", "_"))
    data = {**comparison.to_dict(), "files": files}
    if json_out:
        emit_json(data)
    else:
        for row in data["inputs"]:
            console.print(f"  {esc(format(row['label'], '40s'))} {esc(format(row['kind'], '8s'))} peak role "
                          f"{esc(repr(row['peak_role']))} at depth {row['peak_depth']:.2f}")
        for f in files:
            console.print(f"  wrote {esc(f)}", highlight=False)


@trace_app.command("select-layers")
def select_layers_cmd(
    model: Annotated[str, typer.Argument(help="Registry name, local directory or cached hub id.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the suggested hparams TOML here.")] = None,
    method: Annotated[str, typer.Option("--method", help="memit (critical window) or rome (peak layer).")] = "memit",
    size: Annotated[int, typer.Option("--size", help="Width of the critical window.")] = 5,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    samples: SamplesOpt = 10,
    json_out: JsonOpt = False,
) -> None:
    """Suggest which layers to edit from the averaged MLP effect at the last subject token."""
    from ..errors import TraceError
    from ..lm import load_model
    from ..tracing import TraceParams
    from ..tracing.select_layers import select_layers

    if method not in ("memit", "rome"):
        raise TraceError(f"unknown method {method!r}", hint="use memit or rome")
    lm = load_model(model, device=device, dtype=dtype)
    suggestion = select_layers(lm, params=TraceParams(samples=samples, kinds=("mlp",)), size=size, progress=not json_out)
    if out is not None:
        suggestion.write(out, method)
    if json_out:
        emit_json({**suggestion.__dict__, "file": str(out) if out else None})
    else:
        console.print(suggestion.to_toml(method), markup=False, highlight=False)
        if out is not None:
            console.print(f"wrote {esc(out)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")
