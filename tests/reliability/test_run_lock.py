"""Issue 14 item 7: one process per run directory; a second one stops at once with one line naming the PID that
holds it, and a lock whose holder died never blocks a later run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from stylekg.errors import RunError
from stylekg.pipeline.config import RunConfig
from stylekg.pipeline.runner import run_id_for

from .helpers import write_config

HOLD = ("import sys, time; from stylekg.pipeline.run_lock import RunLock; RunLock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(120)")


def _holder(run_dir) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_on_a_run_directory_is_refused_with_the_holder_pid(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "run.toml", store=str(tmp_path / "g.lbug"))
    run_dir = tmp_path / "runs" / run_id_for(RunConfig.from_toml(path))
    holder = _holder(run_dir)
    try:
        result = cli("run", "--config", path)
    finally:
        holder.kill()
        holder.wait(30)
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1 and f"PID {holder.pid}" in result.err
    assert str(run_dir.relative_to(tmp_path)) in result.err
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # it wrote nothing there
    assert not (tmp_path / "g.lbug").exists()  # nor in the store


def test_a_killed_holder_releases_the_lock(tmp_path):
    from stylekg.pipeline.run_lock import RunLock

    run_dir = tmp_path / "run"
    holder = _holder(run_dir)
    with pytest.raises(RunError, match=f"PID {holder.pid}"):
        RunLock(run_dir).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    with RunLock(run_dir):  # the kernel dropped the dead process's lock
        with pytest.raises(RunError, match=f"PID {os.getpid()}"):
            RunLock(run_dir).acquire()  # a second holder, even in the same process, is refused
    with RunLock(run_dir):  # released on exit
        pass
