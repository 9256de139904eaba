"""The ``stylekg`` command line: thin wrappers that parse, call library functions and print."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from typing import Annotated

import typer

from . import __version__, commands
from .commands.common import err_console
from .errors import StyleKGError
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
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    if _info.name != "common":
        importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def main() -> None:
    """Console entry point: user errors become one clear line and exit code 2."""
    try:
        app(standalone_mode=False)
    except (StyleKGError, ModelError) as exc:  # the two bases: lm's own and everything above it
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
