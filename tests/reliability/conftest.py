"""The ``cli`` fixture: ``stylekg.cli.main`` in-process, exactly as the console script runs it."""

from __future__ import annotations

import sys

import pytest

from .helpers import Result


@pytest.fixture()
def cli(home, capsys, monkeypatch):
    """``cli(*args)``: ``stylekg.cli.main`` as the console script runs it (exit code, stdout, stderr)."""
    from stylekg import cli as cli_module

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["stylekg", *map(str, args)])
        monkeypatch.setitem(cli_module._state, "debug", False)
        capsys.readouterr()
        try:
            cli_module.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
