"""Issue 14 item 11: the ``config.toml`` of a run reads back equal (emoji, quotes, every mode's text), and
``--config`` honours the file's ``device`` and ``runs_dir`` unless the flag is given."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib

import pytest

from stylekg.pipeline.config import RunConfig
from stylekg.pipeline.runner import run_id_for

from .helpers import write_config

ODD = 'Captain 🦜 "Jack" \\ Sparrow\n\t𝔄rr — ☠️ \U0010FFFD'  # outside the BMP, quotes, backslash, control chars


@pytest.mark.parametrize("mode, extra", [
    ("erase", {}),
    ("replace", {"new": f"ahoy {ODD}"}),
    ("insert", {"new": "shiver me timbers 🏴‍☠️"}),
    ("erase", {"layers_from_trace": True}),
])
def test_run_config_round_trips_through_toml(tmp_path, mode, extra):
    config = RunConfig(style=ODD, mode=mode, node=f"{ODD} parent", llm_model="m/🤖", store=str(tmp_path / "s 🦜.lbug"),
                       runs_dir=str(tmp_path / "runs ☠"), presence_threshold=2, extra=extra)
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml(), encoding="utf-8")
    tomllib.loads(path.read_text("utf-8"))  # valid TOML
    again = RunConfig.from_toml(path)
    assert again == config and again.extra == extra
    assert run_id_for(again) == run_id_for(config)  # the same run directory: `--config` resumes it


def test_the_written_config_reproduces_the_run_id(tmp_path):
    """What the pipeline writes into the run directory is what the report's reproduce command reads."""
    from stylekg.paths import atomic_write_text
    from stylekg.views.report import reproduce_command

    config = RunConfig(style="Yoda", mode="replace", extra={"new": "hmm 🟢"}, store=str(tmp_path / "g.lbug"))
    run_dir = tmp_path / "runs" / run_id_for(config)
    atomic_write_text(run_dir / "config.toml", config.to_toml())  # as the pipeline writes it
    command = reproduce_command(run_dir).split()
    assert command[:3] == ["stylekg", "run", "--config"]
    assert run_id_for(RunConfig.from_toml(run_dir / "config.toml")) == run_dir.name


def _hold(run_dir):
    """A process holding the run lock of ``run_dir`` (the way a running ``stylekg run`` holds it)."""
    code = ("import sys, time; from stylekg.pipeline.run_lock import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_config_file_device_and_runs_dir_are_honoured(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "run.toml", device="bogus-device", runs_dir="from-file",
                        store=str(tmp_path / "g.lbug"))
    result = cli("run", "--config", path)
    assert result.code == 2 and "'bogus-device' is not a torch device" in result.err  # the file's device is used

    # the file's runs_dir: another process holds that run directory, so this run stops at its lock
    path = write_config(tmp_path / "run.toml", runs_dir="from-file", store=str(tmp_path / "g.lbug"))
    run_dir = tmp_path / "from-file" / run_id_for(RunConfig.from_toml(path))
    holder = _hold(run_dir)
    try:
        result = cli("run", "--config", path)
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(30)
    assert result.code == 2 and f"PID {holder.pid}" in result.err and "from-file" in result.err, result.err


def test_device_flag_overrides_the_file(cli, tmp_path, monkeypatch):
    """A flag that is given wins: the device check passes with --device cpu, and the run stops later, at the style
    (an unknown style, so nothing runs)."""
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "run.toml", style="Professor Zorblax", device="bogus-device",
                        store=str(tmp_path / "g.lbug"))
    result = cli("run", "--config", path, "--device", "cpu")
    assert result.code == 2 and "bogus-device" not in result.err and "Zorblax" in result.err, result.err
