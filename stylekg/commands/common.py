"""Shared CLI pieces: the console, common options, JSON output, escaping for the terminal and rich, input checks.

Text from users, graph files and LLMs is data. :func:`printable` shows every control character as a visible escape
(``\\x1b``, ``\\x9b``, ``\\u202e``): an ESC, a BEL or a C1 control from a name could otherwise clear the screen,
rewrite the terminal title or hide text. :func:`esc` adds rich's markup escaping, for text inside markup. Both
consoles are :class:`SafeConsole`, which applies :func:`printable` to every piece of text it renders, so nothing
printed through them can reach the terminal as a control sequence even where a call site forgot :func:`esc`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.segment import Segment

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""C0 controls but tab and newline, DEL, C1 controls (``\\x9b`` is a one-byte CSI), and the bidirectional
overrides and isolates that reorder what a terminal shows."""


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any, *, keep_newlines: bool = True) -> str:
    """``value`` as text a terminal shows literally: control characters become visible escapes (``\\x1b``).
    Tabs and (with ``keep_newlines``) newlines stay, for tables and multi-line messages."""
    text = _CONTROL.sub(_visible, str(value))
    return text if keep_newlines else text.replace("\n", "\\n").replace("\t", "\\t")


class SafeConsole(Console):
    """A rich console that renders every piece of text through :func:`printable` (rich's own styles and cursor
    controls are separate control segments and pass unchanged)."""

    def render(self, renderable: RenderableType, options: Any = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not _CONTROL.search(segment.text):
                yield segment
            else:
                yield Segment(printable(segment.text), segment.style, segment.control)


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines pass through :func:`printable` (a log message may quote an LLM answer)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


from ..editing.registry import METHODS

console = SafeConsole()
err_console = SafeConsole(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
DeviceOpt = Annotated[str, typer.Option(
    "--device", help="Torch device: cpu (default), cuda, cuda:1, or auto (spread over every GPU, CPU offload).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Weights dtype: float32 (default), bfloat16 or float16.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Registry name, local HF directory or cached hub id.")]
METHOD_HELP = f"Editing method: {' | '.join(METHODS)} (one package each under stylekg/editing/)."
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Graph store: a LadybugDB path (default: embedded in $STYLEKG_HOME) or neo4j://host:port."),
]


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity as ``None``: JSON has no such numbers (a bare ``NaN`` is not JSON)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Write JSON to stdout (no rich markup, so scripts can parse it; NaN and infinity as ``null``)."""
    sys.stdout.write(json.dumps(_finite(obj), indent=2, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def echo_data(text: str, *, terminal: bool | None = None) -> None:
    """Write a data format (JSON, Turtle, GraphML) to stdout: exact into a pipe or a file, with control characters
    shown as escapes on a terminal (``terminal``: default, whether stdout is one). Turtle keeps an ESC in a name
    as a raw byte, and JSON a C1 control such as ``\\x9b``."""
    if console.is_terminal if terminal is None else terminal:
        text = printable(text)
    sys.stdout.write(text)
    sys.stdout.flush()


def esc(value: Any) -> str:
    """``value`` as text rich prints literally: names from users, graph files and LLMs are data, never markup and
    never terminal control sequences."""
    return escape(printable(value))


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
