"""Shared CLI pieces: the console, common options, JSON output, escaping for rich, and input checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
DeviceOpt = Annotated[str, typer.Option(
    "--device", help="Torch device: cpu (default), cuda, cuda:1, or auto (spread over every GPU, CPU offload).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Weights dtype: float32 (default), bfloat16 or float16.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Registry name, local HF directory or cached hub id.")]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Graph store: a LadybugDB path (default: embedded in $STYLEKG_HOME) or neo4j://host:port."),
]


def emit_json(obj: Any) -> None:
    """Write JSON to stdout (no rich markup, so scripts can parse it)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


def esc(value: Any) -> str:
    """``value`` as text rich prints literally: names from users, graph files and LLMs are data, never markup."""
    return escape(str(value))


def require_utf8(path: Path, what: str = "file") -> None:
    """Refuse a file that is missing or not UTF-8 text, naming it (before any model is loaded)."""
    from ..paths import read_utf8

    read_utf8(path, what)


def check_template(template: str, where: str) -> None:
    """A prompt template given on the command line, checked as every request's is (:func:`stylekg.requests.
    check_template`: exactly one ``{}``, no other brace), with ``where`` it came from in the message."""
    from ..errors import EditError
    from ..requests import check_template as check_request_template

    try:
        check_request_template(template)
    except EditError as exc:
        raise EditError(f"{where}: {exc.args[0]}", hint=exc.hint) from None
