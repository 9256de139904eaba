"""Helpers for the reliability tests: the console entry point as a process (``spawn``), its result, and a
tiny-model run config that finishes in well under a minute."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import tomli_w

# The smallest real run: tiny GPT-2, one marker, one trace sample, no fact trace, no install edit.
TINY_RUN = {"style": "Donald Trump", "model": "tiny-gpt2", "method": "memit", "trace_samples": 1, "trace_facts": 0,
            "generations": 1, "max_markers": 1, "install_if_absent": False}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def write_config(path: Path, **run) -> Path:
    """A run config TOML (``[run]`` with :data:`TINY_RUN` and ``run``'s keys)."""
    path.write_text(tomli_w.dumps({"run": {**TINY_RUN, **run}}), encoding="utf-8")
    return path


def cli_env(home: Path) -> dict[str, str]:
    return {**os.environ, "STYLEKG_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
            "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def _as_from_a_terminal() -> None:
    """Ctrl-C reaches the child as it would from a terminal: a test run started in the background (``cmd &``
    without job control) ignores SIGINT, every child inherits that, and Python then never raises
    KeyboardInterrupt (the interrupt test saw the run finish with exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(*args: str, cwd: Path, home: Path) -> subprocess.Popen:
    """``stylekg ARGS`` as a separate process (stdout and stderr piped, text)."""
    return subprocess.Popen([sys.executable, "-m", "stylekg.cli", *map(str, args)], cwd=cwd, env=cli_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_terminal)


def run_process(*args: str, cwd: Path, home: Path, timeout: float = 600) -> Result:
    proc = spawn(*args, cwd=cwd, home=home)
    out, err = proc.communicate(timeout=timeout)
    return Result(proc.returncode, out, err)
