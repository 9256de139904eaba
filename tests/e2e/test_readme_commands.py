"""Every ``stylekg …`` command shown in README.md and docs/*.md parses with exactly the flags printed there.

The files are read when the test runs (they keep changing). Each command line, from a fenced code block or an
inline code span, goes through the real click parser of the real CLI, command group by command group, without
running the command: an unknown flag, a missing argument or a wrong value type fails with the file and line.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from stylekg.cli import app

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE = re.compile(r"`(stylekg(?: [^`]*)?)`")
OPTIONAL = re.compile(r"\[(--?[^\[\]]+)\]")  # `[--style NAME]` in a usage line: the flag as it would be typed


def shown_commands() -> list[tuple[str, str]]:
    """(``file:line``, command line) for every ``stylekg`` command in the README and the docs (an inline code
    span's line ends in ``:inline``)."""
    found: list[tuple[str, str]] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines, fenced, pending = path.read_text(encoding="utf-8").splitlines(), False, ""
        for number, line in enumerate(lines, 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if FENCE.match(line):
                fenced, pending = not fenced, ""
                continue
            if fenced:
                text = pending + line.strip().removeprefix("$ ")
                if text.endswith("\\"):  # a shell continuation line
                    pending = text[:-1] + " "
                    continue
                pending = ""
                if text == "stylekg" or text.startswith("stylekg "):
                    found.append((where, text))
            else:
                found += [(f"{where}:inline", m.group(1)) for m in INLINE.finditer(line)]
    return found


def _parse(argv: list[str], mention: bool = False) -> None:
    """Parse ``argv`` through the CLI's groups and commands as click would before invoking anything.

    ``mention``: an inline span that only names a command (`stylekg compare`) must name one that exists; its
    required arguments are not expected."""
    command: typer.core.TyperGroup | typer.core.TyperCommand = typer.main.get_command(app)  # type: ignore[assignment]
    name, parent = "stylekg", None
    while True:
        if mention and not argv and not hasattr(command, "resolve_command"):
            return
        try:
            ctx = command.make_context(name, list(argv), parent=parent)
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a command group named on its own, e.g. `stylekg kg`
                return
            raise
        if not hasattr(command, "resolve_command"):
            return
        rest = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])), *ctx.args]
        if not rest:
            return
        name, command, argv = command.resolve_command(ctx, rest)  # type: ignore[assignment]
        parent = ctx


SHELL_OPERATORS = {"&&", "||", "|", ";", ">", ">>", "2>", "&"}
# a placeholder stands for a value of any type: N, DIR, FILE, NAME, "…", <id>
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*|…+|<[^<>]+>")


def _argv(line: str) -> list[str]:
    """The arguments of a shown ``stylekg`` command (up to a shell operator), with placeholders as ``1``."""
    words = shlex.split(OPTIONAL.sub(r"\1", line), comments=True)
    assert words[0] == "stylekg"
    cut = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
    return ["1" if PLACEHOLDER.fullmatch(w) else w for w in words[1:cut]]


def test_the_docs_show_commands():
    commands = shown_commands()
    assert len(commands) > 20, commands
    assert any("kg decompose" in line and "--llm-model" in line for _, line in commands)


@pytest.mark.parametrize("where, line", shown_commands(), ids=lambda v: v if str(v).startswith(("README", "docs")) else "")
def test_shown_command_parses(where: str, line: str):
    try:
        _parse(_argv(line), mention=where.endswith(":inline"))
    except Exception as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"{where}: `{line}` does not parse: {type(exc).__name__}: {message}")


def test_a_wrong_flag_is_caught():
    """The check can fail: a flag the CLI lacks does not parse."""
    with pytest.raises(Exception, match="--no-such-flag"):
        _parse(_argv("stylekg kg decompose 'Carl Sagan' --no-such-flag x"))
    with pytest.raises(Exception):
        _parse(_argv("stylekg edit --graph g.json --node X --inherited-typo"))
