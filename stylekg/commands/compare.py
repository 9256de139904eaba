"""``stylekg compare``: all editing methods on one style-erasure task, one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DeviceOpt, JsonOpt, StoreOpt, console, emit_json


def compare_cmd(
    style: Annotated[str, typer.Option("--style", help="A library style to erase.")],
    methods: Annotated[str, typer.Option("--methods", help="Comma-separated method names.")] = (
        "ft,penalty-ft,classifier-ft,lora,rome,memit,alphaedit,steer"
    ),
    model: Annotated[str, typer.Option("--model", "-m")] = "smollm2-135m",
    max_markers: Annotated[int, typer.Option("--max-markers")] = 2,
    out: Annotated[Path, typer.Option("--out", help="Directory for compare.md/.json/.png.")] = Path("compare"),
    device: DeviceOpt = "cpu",
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run each method on the same requests; measure style removed, specificity, fluency and cost."""
    from ..editing.registry import METHODS
    from ..errors import EditError
    from ..lm import load_model
    from ..pipeline.compare import compare_style, markdown

    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise EditError(f"unknown method(s) {', '.join(unknown)}", hint=f"choose from {', '.join(sorted(METHODS))}")
    lm = load_model(model, device=device)
    result = compare_style(lm, style, names, max_markers=max_markers, store=store, out_dir=out)
    if json_out:
        emit_json(result)
    else:
        console.print(markdown(result), markup=False, highlight=False)
        console.print(f"table: {out / 'compare.md'}, plot: {out / 'compare.png'}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
