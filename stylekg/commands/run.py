"""``stylekg run`` (the main job) and ``stylekg demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DeviceOpt, JsonOpt, StoreOpt, console, emit_json

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"  # package data


def _progress():
    def on_event(stage: str, status: str) -> None:
        marks = {"start": "[cyan]…[/]", "done": "[green]✓[/]", "cached": "[dim]↺ cached[/]"}
        console.print(f"  {marks.get(status, status)} {stage}", highlight=False)

    return on_event


def run_cmd(
    style: Annotated[str, typer.Argument(help="A library style or any style an LLM can decompose.")] = "",
    erase: Annotated[bool, typer.Option("--erase", help="Erase the style's markers (towards neutral forms).")] = False,
    replace: Annotated[str | None, typer.Option("--replace", help="Replace the edited objects with this text.")] = None,
    insert: Annotated[str | None, typer.Option("--insert", help="Insert this marker into the style.")] = None,
    node: Annotated[str, typer.Option("--node", help="Node to edit (default: the nearest abstract parent with markers).")] = "",
    propagate: Annotated[str, typer.Option("--propagate", help="explicit | implicit | none")] = "explicit",
    method: Annotated[str, typer.Option("--method", help="rome | memit | alphaedit | ...")] = "memit",
    model: Annotated[str, typer.Option("--model", "-m")] = "smollm2-135m",
    provider: Annotated[str, typer.Option("--provider", help="library | openai | local (decomposition)")] = "library",
    llm_model: Annotated[str, typer.Option("--llm-model", help="Model name at the OpenAI-compatible endpoint.")] = "",
    auto: Annotated[str, typer.Option("--auto", help="Expand a wide subject into styles and modify them.")] = "",
    config: Annotated[Path | None, typer.Option("--config", help="A run config TOML (replaces the flags).")] = None,
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
    device: DeviceOpt = "cpu",
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Trace, edit, evaluate and report one style end to end (re-running the same config resumes)."""
    from ..pipeline import Pipeline, RunConfig
    from ..errors import ConfigError

    if sum(bool(x) for x in (erase, replace, insert)) > 1:
        raise ConfigError("choose one of --erase, --replace, --insert")
    mode = "replace" if replace else "insert" if insert else "erase"
    extra = {"new": replace or insert} if (replace or insert) else {}
    if config is not None:
        cfg = RunConfig.from_toml(config, device=device, store=store, runs_dir=runs_dir)
    else:
        cfg = RunConfig(style=style, auto=auto, mode=mode, node=node, propagate=propagate, method=method, model=model,
                        device=device, store=store, provider=provider, llm_model=llm_model, runs_dir=runs_dir, extra=extra)
    if cfg.auto:
        from ..pipeline.auto import run_auto

        outcome = run_auto(cfg, on_event=None if json_out else _progress())
    else:
        if not json_out:
            console.print(f"[bold]stylekg run[/] {cfg.style!r} ({cfg.mode}, {cfg.method} on {cfg.model})")
        outcome = Pipeline(cfg, on_event=None if json_out else _progress()).run()
    if json_out:
        emit_json({"run_id": outcome.run_id, "run_dir": str(outcome.run_dir), "report": str(outcome.report_html),
                   "summary": outcome.summary.to_dict()})
        return
    _print_outcome(outcome)


def demo_cmd(
    runs_dir: Annotated[str, typer.Option("--runs-dir")] = "runs",
    device: DeviceOpt = "cpu",
    store: StoreOpt = None,
) -> None:
    """The demo: stylekg/configs/demo.toml on the real model, then the report path and one Cypher query."""
    from ..pipeline import Pipeline, RunConfig

    cfg = RunConfig.from_toml(DEMO_CONFIG, device=device, store=store, runs_dir=runs_dir)
    console.print(f"[bold]stylekg demo[/]: {cfg.style!r} erased through its abstract parent "
                  f"({cfg.propagate} propagation, {cfg.method} on {cfg.model})")
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
    table = Table("style", "role", "log P(marker) before", "after", "held before", "held after")
    for row in s.styles:
        table.add_row(row.name, row.role, f"{row.presence_before:.2f}", f"{row.presence_after:.2f}",
                      f"{row.marker_rate_before:.0%}", f"{row.marker_rate_after:.0%}")
    console.print(table)
    m = s.metrics or {}
    keys = ("efficacy_score", "paraphrase_score", "neighborhood_score")
    console.print("counterfact " + "  ".join(
        f"{k}: {m.get('before', {}).get(k, float('nan')):.2f} → {m.get('after', {}).get(k, float('nan')):.2f}" for k in keys
        if m.get("before", {}).get(k) is not None))
    console.print(f"report: [bold]{outcome.report_html}[/]  (also {outcome.report_md})")
    for q in s.cypher[:1]:
        console.print(f"\n[bold]{q.title}[/] (Cypher, params {q.params}):")
        console.print(q.query, markup=False, highlight=False)
        for row in q.rows[:12]:
            console.print("  " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                          highlight=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("demo")(demo_cmd)
