"""The ``stylekg`` command line: thin wrappers that parse, call library functions and print."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

INTERRUPTED = ("interrupted; nothing half-written was kept (a re-run of `stylekg run` resumes from its last finished "
               "stage)")


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C while the heavy modules import (torch, transformers: seconds): nothing has been written yet, so the
    one line and exit 130, without a traceback from inside an import."""
    sys.stderr.write(INTERRUPTED + "\n")
    sys.stderr.flush()
    os._exit(130)


# Installed before any heavy import, and only when this process *is* the stylekg command (the console script or
# ``python -m stylekg.cli``), never when a library user or a test imports this module; a SIGINT the parent told us
# to ignore stays ignored. :func:`main` hands Ctrl-C back to Python (KeyboardInterrupt) once imports are done.
if (__name__ == "__main__" or Path(sys.argv[0] if sys.argv else "").name == "stylekg") and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import importlib  # noqa: E402  (after the interrupt handler, on purpose)
import logging  # noqa: E402
import pkgutil  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from . import __version__, commands  # noqa: E402
from .commands.common import PrintableFormatter, err_console, esc  # noqa: E402
from .errors import StyleKGError, redact  # noqa: E402
from .lm.errors import ModelError  # noqa: E402

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
    _say(INTERRUPTED, prefix="")
    sys.exit(130)


def main() -> None:
    """Console entry point. Every user error is one line with exit code 2 (usage errors, bad input, a
    :class:`StyleKGError` or the model layer's :class:`ModelError`); Ctrl-C is one line with exit code 130;
    anything else is a bug: one line with exit code 1 (``--debug`` shows the traceback)."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:  # imports done: Ctrl-C raises again,
        signal.signal(signal.SIGINT, signal.default_int_handler)  # so writers clean up on the way out
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
