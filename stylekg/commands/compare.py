"""``stylekg compare``: all editing methods on one style-erasure task, one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DeviceOpt, DtypeOpt, JsonOpt, StoreOpt, console, emit_json


def compare_cmd(
    style: Annotated[str, typer.Option("--style", help="A library style to erase.")],
    methods: Annotated[str, typer.Option("--methods", help="Comma-separated method names.")] = (
        "ft,penalty-ft,classifier-ft,lora,rome,memit,alphaedit,steer"
    ),
    model: Annotated[str, typer.Option("--model", "-m")] = "smollm2-135m",
    max_markers: Annotated[int, typer.Option("--max-markers")] = 2,
    out: Annotated[Path, typer.Option("--out", help="Directory for compare.md/.json/.png.")] = Path("compare"),
    prompts: Annotated[str | None, typer.Option("--prompts", help="A prompt set: add generation columns on its held-out split, and the prompting baseline.")] = None,
    edit_data: Annotated[str, typer.Option("--edit-data", help="requests (persona prompts) | occurrences (where the model writes the markers; needs --prompts).")] = "requests",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Length of each generated answer.")] = 96,
    hparams: Annotated[list[str] | None, typer.Option(
        "--hparams", help="METHOD=CONFIG: a method's hyper-parameters, a TOML file or a shipped <method>/<name> "
                          "(repeatable; e.g. penalty-ft=penalty-ft/smollm2-135m-voice).")] = None,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run each method on the same requests; measure style removed, specificity, fluency and cost (and, with
    --prompts, the style in the answers each edited model writes to held-out prompts)."""
    from ..editing.registry import METHODS
    from ..errors import EditError
    from ..lm import load_model
    from ..pipeline.compare import compare_style, markdown

    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise EditError(f"unknown method(s) {', '.join(unknown)}", hint=f"choose from {', '.join(METHODS)}")
    if edit_data not in ("requests", "occurrences"):
        raise EditError(f"--edit-data {edit_data!r}", hint="use requests or occurrences")
    if edit_data == "occurrences" and not prompts:
        raise EditError("--edit-data occurrences needs --prompts", hint="e.g. --prompts assistant-instructions")
    if prompts:
        from ..evaluation.prompt_sets import load_prompt_set

        load_prompt_set(prompts).split("heldout")  # a bad prompt set is named before the model loads
    chosen = {}
    for item in hparams or []:
        from ..editing.hparams_files import hparams_file, load_method

        name, sep, ref = item.partition("=")
        if not sep or name.strip() not in METHODS or not ref.strip():
            raise EditError(f"--hparams {item!r}", hint="write METHOD=CONFIG, e.g. penalty-ft=penalty-ft/smollm2-135m-voice")
        chosen[name.strip()] = load_method(name.strip(), model, hparams_file(ref.strip()))[1]
    lm = load_model(model, device=device, dtype=dtype)
    result = compare_style(lm, style, names, max_markers=max_markers, store=store, out_dir=out, prompts=prompts,
                           edit_data=edit_data, max_new_tokens=max_new_tokens, hparams=chosen)
    if json_out:
        emit_json(result)
    else:
        console.print(markdown(result), markup=False, highlight=False)
        console.print(f"table: {out / 'compare.md'}, plot: {out / 'compare.png'}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
