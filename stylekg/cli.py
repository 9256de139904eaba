"""The ``stylekg`` command line: thin wrappers that parse, call library functions and print."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from typing import Annotated

import typer

from . import __version__, commands
from .commands.common import PrintableFormatter, err_console, esc
from .errors import StyleKGError, redact
from .lm.errors import ModelError

app = typer.Typer(
    name="stylekg",
    help="Edit styles inside transformer language models through knowledge graphs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stylekg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show progress logs.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """stylekg: decompose a style into a graph, store it, trace it, edit it, evaluate and show it."""
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    if _info.name != "common":
        importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's exception base as typer ships it (vendored since typer 0.20) and as click itself defines it."""
    found: list[type[Exception]] = []
    for module, name in (("typer._click.exceptions", "ClickException"), ("click.exceptions", "ClickException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _say(message: str, prefix: str = "[bold red]error:[/] ") -> None:
    """Print one line on stderr: credentials redacted, the message escaped for the terminal and rich (names may hold
    ``[/x]`` or control characters), newlines folded."""
    err_console.print(prefix + esc(redact(" ".join(str(message).split()))), highlight=False, soft_wrap=True)


def _usage_line(exc: Exception) -> str:
    """A click usage error as one line, naming the command's --help."""
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"{exc.format_message()}{where}"  # type: ignore[attr-defined]


def _interrupted() -> None:
    _say("interrupted; nothing half-written was kept (a re-run of `stylekg run` resumes from its last finished stage)",
         prefix="")
    sys.exit(130)


def main() -> None:
    """Console entry point. Every user error is one line with exit code 2 (usage errors, bad input, a
    :class:`StyleKGError` or the model layer's :class:`ModelError`); Ctrl-C is one line with exit code 130;
    anything else is a bug: one line with exit code 1 (``--debug`` shows the traceback)."""
    try:
        code = app(prog_name="stylekg", standalone_mode=False)  # ctx.exit's code, or 130 after Ctrl-C (typer)
    except (StyleKGError, ModelError) as exc:  # the two bases: lm's own and everything above it
        if _state["debug"]:
            raise
        _say(str(exc))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        _interrupted()
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help is the message (rich mode printed it already)
            if exc.format_message().strip():  # type: ignore[attr-defined]
                err_console.print(exc.format_message(), markup=False, highlight=False)  # type: ignore[attr-defined]
            sys.exit(2)
        if isinstance(exc, _usage_errors()):
            _say(_usage_line(exc))
            sys.exit(2)
        if _state["debug"]:
            raise
        if isinstance(exc, UnicodeDecodeError):
            _say(f"an input file is not UTF-8 text ({exc.reason} at byte {exc.start})")
            sys.exit(2)
        _say(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        sys.exit(1)
    if code == 130:
        _interrupted()
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
