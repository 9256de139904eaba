"""``stylekg models ...`` and ``stylekg generate``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import DeviceOpt, DtypeOpt, JsonOpt, console, emit_json, esc

models_app = typer.Typer(help="List, prepare and inspect models.", no_args_is_help=True)


@models_app.command("list")
def list_models(json_out: JsonOpt = False) -> None:
    """Registered models and whether their weights are installed/cached."""
    from ..lm.info import list_models as _list

    rows = _list()
    if json_out:
        emit_json(rows)
        return
    table = Table("name", "source", "installed", "cached", "description")
    for r in rows:
        table.add_row(esc(r["name"]), esc(r["source"]), _yes(r["installed"]), _yes(r["cached"]), esc(r["description"]))
    console.print(table)


@models_app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="Registered model name, e.g. smollm2-135m.")],
    force: Annotated[bool, typer.Option("--force", help="Rebuild the cache even if present.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Prepare a model's cache (dequantize the GGUF once into safetensors)."""
    from ..lm.info import pull_model

    info = pull_model(name, force=force)
    if json_out:
        emit_json(info)
    else:
        console.print(f"[green]ready[/] {esc(name)}: cached at {esc(info['cache_path'])}", highlight=False)


@models_app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="Registry name, local directory or cached hub id.")],
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    json_out: JsonOpt = False,
) -> None:
    """Architecture, layers, hidden sizes and where the model is cached."""
    from ..lm.info import model_info

    data = model_info(name, device=device, dtype=dtype)
    if json_out:
        emit_json(data)
        return
    table = Table("field", "value", show_header=False)
    for key, value in data.items():
        table.add_row(esc(key), esc(value))
    console.print(table)


def generate_cmd(
    model: Annotated[str, typer.Argument(help="Model name or path.")],
    prompt: Annotated[str, typer.Argument(help="Prompt text.")],
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "-n")] = 32,
    sample: Annotated[bool, typer.Option("--sample", help="Sample instead of greedy decoding.")] = False,
    temperature: Annotated[float, typer.Option("--temperature")] = 1.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    chat: Annotated[bool, typer.Option("--chat", help="Wrap the prompt in the model's chat template.")] = False,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    json_out: JsonOpt = False,
) -> None:
    """Generate a continuation (greedy by default)."""
    from ..lm import load_model
    from ..lm.generation import generate

    lm = load_model(model, device=device, dtype=dtype)
    text = generate(lm, [prompt], max_new_tokens=max_new_tokens, do_sample=sample, temperature=temperature, seed=seed, chat=chat)[0]
    if json_out:
        emit_json({"model": model, "prompt": prompt, "completion": text})
    else:
        console.print(f"[dim]{esc(prompt)}[/]{esc(text)}", highlight=False)


def _yes(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[dim]no[/]"


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command("generate")(generate_cmd)
