"""Shared CLI pieces: the console, common options and JSON output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu (default), cuda, cuda:1, or auto.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Registry name, local HF directory or cached hub id.")]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Graph store: a LadybugDB path (default: embedded in $STYLEKG_HOME) or neo4j://host:port."),
]


def emit_json(obj: Any) -> None:
    """Write JSON to stdout (no rich markup, so scripts can parse it)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()
