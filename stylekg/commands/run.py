"""``stylekg run`` (the main job) and ``stylekg demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..requests import Propagation, RequestKind
from .common import METHOD_HELP, JsonOpt, StoreOpt, console, emit_json, esc

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"  # package data
# None when not given, so that a --config file's own device and runs_dir hold unless the flag is passed
DeviceFlag = Annotated[str | None, typer.Option(
    "--device", help="Torch device: cpu (default), cuda, cuda:1, or auto (spread over every GPU, CPU offload).",
    show_default=False)]
DtypeFlag = Annotated[str | None, typer.Option(
    "--dtype", help="Weights dtype: float32 (default), bfloat16 or float16.", show_default=False)]
RunsDirOpt = Annotated[str | None, typer.Option(
    "--runs-dir", help="Where run directories go (default: runs).", show_default=False)]


def _progress():
    def on_event(stage: str, status: str) -> None:
        marks = {"start": "[cyan]…[/]", "done": "[green]✓[/]", "cached": "[dim]↺ cached[/]",
                 "redo": "[yellow]↻ damaged, again:[/]"}
        console.print(f"  {marks.get(status, esc(status))} {esc(stage)}", highlight=False)

    return on_event


def run_cmd(
    style: Annotated[str, typer.Argument(help="A library style or any style an LLM can decompose.")] = "",
    erase: Annotated[bool, typer.Option("--erase", help="Erase the style's markers (towards neutral forms).")] = False,
    replace: Annotated[str | None, typer.Option("--replace", help="Replace the edited objects with this text.")] = None,
    insert: Annotated[str | None, typer.Option("--insert", help="Insert this marker into the style.")] = None,
    node: Annotated[str, typer.Option("--node", help="Node to edit (default: the nearest abstract parent with markers).")] = "",
    propagate: Annotated[Propagation, typer.Option(
        "--propagate", help="From the edited abstract parent to its subclasses.")] = Propagation.EXPLICIT,
    method: Annotated[str, typer.Option("--method", help=METHOD_HELP)] = "memit",
    model: Annotated[str, typer.Option("--model", "-m")] = "smollm2-135m",
    provider: Annotated[str, typer.Option("--provider", help="library | openai | local (decomposition)")] = "library",
    llm_model: Annotated[str, typer.Option("--llm-model", help="Model name at the OpenAI-compatible endpoint.")] = "",
    auto: Annotated[str, typer.Option("--auto", help="Expand a wide subject into styles and modify them.")] = "",
    config: Annotated[Path | None, typer.Option(
        "--config", help="A run config TOML (replaces the other flags; --device, --dtype, --store and --runs-dir, "
                         "when given, override the file).")] = None,
    hparams: Annotated[str, typer.Option(
        "--hparams", help="The method's hyper-parameters: a TOML file or a shipped <method>/<name> "
                          "(default <method>/<model>).")] = "",
    graph_file: Annotated[str, typer.Option(
        "--graph-file", help="A graph file or style records (docs/style-graphs.md) merged into the library first: "
                             "a hierarchy written by hand.")] = "",
    prompts: Annotated[str, typer.Option(
        "--prompts", help="Judge the style in generated answers: a prompt set (built-in name or JSON file).")] = "",
    edit_data: Annotated[str, typer.Option(
        "--edit-data", help="requests (graph prompts) | occurrences (where the model writes the markers).")] = "requests",
    samples: Annotated[int, typer.Option("--samples", help="Answers per held-out prompt (> 1 needs --temperature).")] = 1,
    temperature: Annotated[float, typer.Option("--temperature", help="0 = greedy.")] = 0.0,
    judge_model: Annotated[str, typer.Option(
        "--judge-model", help="An LLM at OPENAI_BASE_URL that rates the answers' style and fluency (optional).")] = "",
    runs_dir: RunsDirOpt = None,
    device: DeviceFlag = None,
    dtype: DtypeFlag = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Trace, edit, evaluate and report one style end to end (re-running the same config resumes)."""
    from ..pipeline import Pipeline, RunConfig
    from ..errors import ConfigError

    if sum(bool(x) for x in (erase, replace, insert)) > 1:
        raise ConfigError("choose one of --erase, --replace, --insert")
    mode = RequestKind.REPLACE if replace else RequestKind.INSERT if insert else RequestKind.ERASE
    extra = {"new": replace or insert} if (replace or insert) else {}
    if config is not None:
        cfg = RunConfig.from_toml(config, device=device, dtype=dtype, store=store, runs_dir=runs_dir)
    else:
        cfg = RunConfig(style=style, auto=auto, mode=mode, node=node, propagate=propagate, method=method, model=model,
                        device=device or "cpu", dtype=dtype or "float32", store=store, provider=provider,
                        llm_model=llm_model,
                        runs_dir=runs_dir or "runs", extra=extra, prompts=prompts, edit_data=edit_data,
                        samples=samples, temperature=temperature, top_p=0.9 if temperature > 0 else 1.0,
                        judge_model=judge_model, graph_file=graph_file, hparams=hparams)
    if cfg.auto:
        from ..pipeline.auto import run_auto

        outcome = run_auto(cfg, on_event=None if json_out else _progress())
    else:
        if not json_out:
            console.print(f"[bold]stylekg run[/] {esc(repr(cfg.style))} ({cfg.mode}, {esc(cfg.method)} on {esc(cfg.model)})",
                          highlight=False)
        outcome = Pipeline(cfg, on_event=None if json_out else _progress()).run()
    if json_out:
        emit_json({"run_id": outcome.run_id, "run_dir": str(outcome.run_dir), "report": str(outcome.report_html),
                   "summary": outcome.summary.to_dict()})
        return
    _print_outcome(outcome)


def demo_cmd(
    runs_dir: RunsDirOpt = None,
    device: DeviceFlag = None,
    dtype: DtypeFlag = None,
    store: StoreOpt = None,
) -> None:
    """The demo: stylekg/configs/demo.toml on the real model, then the report path and one Cypher query."""
    from ..pipeline import Pipeline, RunConfig

    cfg = RunConfig.from_toml(DEMO_CONFIG, device=device, dtype=dtype, store=store, runs_dir=runs_dir)
    console.print(f"[bold]stylekg demo[/]: {esc(repr(cfg.style))} erased through its abstract parent "
                  f"({cfg.propagate} propagation, {esc(cfg.method)} on {esc(cfg.model)})", highlight=False)
    outcome = Pipeline(cfg, on_event=_progress()).run()
    _print_outcome(outcome)


def _print_outcome(outcome) -> None:
    from rich.table import Table

    s = outcome.summary
    pres = s.presence or {}
    if s.install:
        inst = s.install
        console.print(
            f"[yellow]presence probe: {pres.get('n_present', 0)} of {len(pres.get('markers', []))} markers held[/] "
            f"(≥ {pres.get('threshold', 1.0):g} nat over a neutral subject): markers installed first "
            f"(+{inst.get('marker_logprob_gain') or 0.0:.2f} nats; marker beats its neutral form on "
            f"{inst['held_after']:.0%} of prompts: {'verified' if inst['verified'] else 'NOT verified'}), then erased"
        )
    if s.generation:
        _print_generation(s)
    else:
        table = Table("style", "role", "log P(marker) before", "after", "held before", "held after")
        for row in s.styles:
            table.add_row(esc(row.name), row.role, _num(row.presence_before), _num(row.presence_after),
                          _pct(row.marker_rate_before), _pct(row.marker_rate_after))
        console.print(table)
    m = s.metrics or {}
    keys = ("efficacy_score", "paraphrase_score", "neighborhood_score")
    console.print("counterfact " + "  ".join(
        f"{k}: {m.get('before', {}).get(k, float('nan')):.2f} → {m.get('after', {}).get(k, float('nan')):.2f}" for k in keys
        if m.get("before", {}).get(k) is not None))
    console.print(f"report: [bold]{esc(outcome.report_html)}[/]  (also {esc(outcome.report_md)})", highlight=False)
    for q in s.cypher[:1]:
        console.print(f"\n[bold]{esc(q.title)}[/] (Cypher, params {esc(q.params)}):")
        console.print(q.query, markup=False, highlight=False)
        for row in q.rows[:12]:
            console.print("  " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                          markup=False, highlight=False)


def _num(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _pct(value) -> str:
    return _num(value, ".0%")


def _print_generation(s) -> None:
    """The style in held-out answers: marker rate per style with intervals, teacher-forced next to it, fluency,
    facts, and three answers before and after."""
    from rich.table import Table

    gen = s.generation
    settings = gen.get("settings") or {}
    console.print(f"held-out prompts: {gen['n_prompts']} of '{esc(gen['prompts'])}' "
                  f"({'greedy' if not settings.get('temperature') else 'sampled'}, ≤ {settings.get('max_new_tokens')} "
                  f"tokens); markers per 1,000 generated tokens [95% bootstrap interval]", highlight=False)
    table = Table("style", "role", "generated before", "after", "intervals", "teacher-forced held before", "after")
    for row in s.styles:
        m = row.metrics
        if "gen_marker_rate_before" not in m:
            continue
        table.add_row(esc(row.name), row.role,
                      f"{m['gen_marker_rate_before']:.1f} [{m['gen_marker_rate_low_before']:.1f}, {m['gen_marker_rate_high_before']:.1f}]",
                      f"{m['gen_marker_rate_after']:.1f} [{m['gen_marker_rate_low_after']:.1f}, {m['gen_marker_rate_high_after']:.1f}]",
                      "overlap" if m.get("gen_intervals_overlap") else "apart",
                      _pct(row.marker_rate_before), _pct(row.marker_rate_after))
    console.print(table)
    before, after = gen["fluency"]["before"], gen["fluency"]["after"]
    keys = (("gen_fluency_ppl", "fluency perplexity", ".2f"), ("gen_distinct_2", "distinct-2", ".2f"),
            ("gen_repetition", "repetition", ".2f"), ("gen_facts_kept", "facts kept", ".0%"),
            ("gen_style_probability", "classifier P(style)", ".2f"))
    from ..views.report_effects import classifier_note, classifier_shown

    shown = classifier_shown(before)
    console.print("  ".join(f"{label}: {_num(before.get(k), f)} → {_num(after.get(k), f)}" for k, label, f in keys
                            if k in before and (shown or k != "gen_style_probability")), highlight=False)
    if shown:
        console.print(f"(classifier held-out accuracy {before['gen_classifier_accuracy']:.2f})", highlight=False)
    elif "gen_style_probability" in before:
        console.print(classifier_note(before), highlight=False)
    if s.effects:
        from .query_effects import print_audit

        print_audit(s.effects)
    tf = gen.get("teacher_forced_heldout") or {}
    if (tf.get("before") or {}).get("n"):
        console.print(f"teacher-forced at {int(tf['before']['n'])} held-out marker positions: marker beats its neutral "
                      f"form {_pct(tf['before'].get('held'))} → {_pct(tf['after'].get('held'))}", highlight=False)
    for prompt, b, a in gen.get("examples", [])[:3]:
        console.print(f"\n[bold]{esc(prompt)}[/]\n  before: {esc(b.strip())}\n  after:  {esc(a.strip())}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("demo")(demo_cmd)
